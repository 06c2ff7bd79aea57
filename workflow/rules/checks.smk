# The start-up checks that import code (residual_pitfalls.checks): user scorers, model classes,
# hparams, the colormap. A job, so that parsing the workflow (every job re-parses it) imports no
# torch, numba or matplotlib; every job that runs a model or a scorer waits for it (ancient: an
# older stamp never reruns them; a changed entry reruns this check through its params).


rule check_setup:
    output:
        SETUP_OK,
    params:
        scores=config.get("scores"),
        models=config["models"],
        image_size=config["image_size"],
        cmap=config["figures"]["cmap"],
    localrule: True
    log:
        "logs/check_setup.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/check_setup.py"
