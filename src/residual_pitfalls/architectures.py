"""The trainable architectures by name, importable without torch.

The workflow checks the config's `arch` names against this dict when it starts; the classes are
imported only where a model is built (`residual_pitfalls.models.MODELS`). Adding a model is one class
plus one line here plus one `models:` entry in config.yaml.
"""

ARCHITECTURES: dict[str, str] = {
    "autoencoder": "residual_pitfalls.models.autoencoder:AutoEncoder",
    "spatial_autoencoder": "residual_pitfalls.models.autoencoder:SpatialAutoEncoder",
    "vqvae2": "residual_pitfalls.models.vqvae:VQVAE2",
    "dae": "residual_pitfalls.models.dae:DenoisingAutoEncoder",
    "ddpm": "residual_pitfalls.models.ddpm:DiffusionModel",
}

# How BatchNorm layers normalise at inference (config key evaluation.batchnorm, the {batchnorm}
# wildcard, models.inference.reconstruct): "eval" (running statistics, ``model.eval()``) or
# "per_image" (each image alone, normalised by its own statistics: the original code, which never
# called ``model.eval()`` and evaluated at batch size 1). Spelled here only.
BATCHNORM_MODES = ("eval", "per_image")
