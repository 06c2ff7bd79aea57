"""Models: architecture (parameter counts of the paper), contract, checkpoints, inference."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from helpers import brain_slices
from torch import nn

from residual_pitfalls.models import (
    MODELS,
    CheckpointError,
    build_model,
    load_model,
    read_checkpoint,
    reconstruct,
    save_checkpoint,
)
from residual_pitfalls.models.external import load_external_model
from residual_pitfalls.models.vqvae import VectorQuantizerEMA

TINY = {
    "autoencoder": {"inp_size": 32, "intermediate_resolution": 4, "latent_dim": 8, "width": 4},
    "spatial_autoencoder": {"inp_size": 32, "intermediate_resolution": 4, "width": 4},
    "vqvae2": {"channel": 16, "n_res_channel": 8, "embed_dim": 8, "n_embed": 16},
    "dae": {"channels": [4, 8, 8], "noise_res": 4},
    "ddpm": {"channels": [4, 8, 8], "timesteps": 50, "t0": 10, "sample_steps": 3},
}


def n_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def seeded(arch: str, seed: int = 0, **hparams) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(arch, **hparams)


# ------------------------------------------------------------------------------------------
# architecture


@pytest.mark.parametrize(
    ("arch", "hparams", "expected"),
    [
        ("autoencoder", {"latent_dim": 128}, 2_882_560),
        ("autoencoder", {"latent_dim": 64}, 1_833_984),
        ("autoencoder", {"latent_dim": 32}, 1_309_696),
        ("spatial_autoencoder", {"latent_channels": 1}, 785_664),
        ("spatial_autoencoder", {"latent_channels": 2}, 785_920),
        ("vqvae2", {}, 1_384_769),
    ],
)
def test_parameter_counts_match_the_paper_models_at_256(arch, hparams, expected):
    assert n_trainable(build_model(arch, **hparams)) == expected


def test_vqvae_codebooks_are_buffers_of_the_paper_size():
    model = build_model("vqvae2")
    for q in (model.quantize_t, model.quantize_b):
        assert tuple(q.embed.shape) == (64, 512)
        assert not q.embed.requires_grad


def test_autoencoder_layout_follows_spec():
    model = build_model("autoencoder", latent_dim=128)
    convs = [m for m in model.encoder if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 128, 128]
    assert all(c.stride == (2, 2) and c.bias is None for c in convs)
    x = torch.rand(2, 1, 256, 256)
    assert tuple(model.encoder(x).shape) == (2, 128, 8, 8)
    assert tuple(model.encode(x).shape) == (2, 128)
    assert tuple(seeded("spatial_autoencoder", latent_channels=2).encode(x).shape) == (2, 2, 8, 8)


def test_vqvae_code_grids_are_input_over_8_and_4():
    model = build_model("vqvae2", **TINY["vqvae2"])
    with torch.no_grad():
        quant_t, quant_b, commitment, codes_t, codes_b = model.encode(torch.rand(2, 1, 64, 64))
    assert tuple(quant_t.shape) == (2, 8, 8, 8)
    assert tuple(quant_b.shape) == (2, 8, 16, 16)
    assert tuple(codes_t.shape) == (2, 8, 8) and tuple(codes_b.shape) == (2, 16, 16)
    assert commitment.ndim == 0 and float(commitment) >= 0


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("arch", sorted(MODELS))
def test_models_reconstruct_at_other_sizes(arch, size):
    sized = {"inp_size": size, "intermediate_resolution": 8}
    hparams = {"vqvae2": {}, "dae": TINY["dae"], "ddpm": TINY["ddpm"]}.get(arch, sized)
    model = seeded(arch, **hparams)
    x = torch.rand(2, 1, size, size)
    rec = model(x)
    assert rec.shape == x.shape and rec.dtype == torch.float32
    loss, rec2 = model.loss(x)
    assert loss.ndim == 0 and torch.isfinite(loss) and rec2.shape == x.shape


def test_autoencoder_rejects_another_input_size():
    model = build_model("autoencoder", inp_size=64)
    with pytest.raises(ValueError, match=r"\(B, 1, 64, 64\)"):
        model(torch.rand(1, 1, 32, 32))


def test_vqvae_rejects_size_not_divisible_by_8():
    with pytest.raises(ValueError, match="divisible by 8"):
        build_model("vqvae2", **TINY["vqvae2"])(torch.rand(1, 1, 36, 36))


# ------------------------------------------------------------------------------------------
# losses and the quantiser


@pytest.mark.parametrize("arch", ["autoencoder", "spatial_autoencoder"])
def test_autoencoder_loss_is_l1_of_its_reconstruction(arch):
    model = seeded(arch, **TINY[arch]).eval()
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        loss, rec = model.loss(x)
    assert torch.equal(rec, model(x))
    assert float(loss) == pytest.approx(float((rec - x).abs().mean()), rel=1e-6)


def test_vqvae_loss_adds_weighted_commitment():
    model = seeded("vqvae2", **TINY["vqvae2"]).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        rec, commitment = model.forward_with_commitment(x)
    assert float(commitment) > 0
    for weight in (0.0, 0.25, 1.0):
        with torch.no_grad():
            loss, _ = model.loss(x, commitment_weight=weight)
        expected = F.l1_loss(rec, x) + weight * commitment
        assert float(loss) == pytest.approx(float(expected), rel=1e-6)


def test_quantizer_picks_nearest_code_and_passes_gradient_straight_through():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        q = VectorQuantizerEMA(dim=4, n_embed=10).eval()
        z = torch.randn(2, 3, 3, 4, requires_grad=True)
    quant, commitment, codes = q(z)
    flat = z.detach().reshape(-1, 4)
    nearest = torch.cdist(flat, q.embed.t()).argmin(1)
    assert torch.equal(codes.reshape(-1), nearest)
    assert torch.allclose(quant.detach().reshape(-1, 4), q.embed.t()[nearest], atol=1e-6)
    expected = float((quant.detach() - z.detach()).pow(2).mean())
    assert float(commitment.detach()) == pytest.approx(expected, rel=1e-5)
    quant.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))  # identity gradient, plus none from codes


def test_quantizer_ema_moves_codebook_only_in_training_mode():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        q = VectorQuantizerEMA(dim=4, n_embed=8, decay=0.5)
    z = torch.randn(1, 5, 5, 4) + 3.0
    before = q.embed.clone()
    q.eval()(z)
    assert torch.equal(q.embed, before)
    _, _, codes = q.train()(z)
    assert not torch.equal(q.embed, before)
    # A used code moves toward the mean of the vectors assigned to it.
    used = int(codes.reshape(-1)[0])
    target = z.reshape(-1, 4)[codes.reshape(-1) == used].mean(0)
    assert (q.embed[:, used] - target).norm() < (before[:, used] - target).norm()


def test_vqvae_gradients_reach_the_encoder():
    model = seeded("vqvae2", **TINY["vqvae2"])
    loss, _ = model.loss(torch.rand(2, 1, 32, 32))
    loss.backward()
    assert model.enc_b[0].weight.grad is not None
    assert model.enc_b[0].weight.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------
# registry


def test_build_model_unknown_arch_lists_valid():
    with pytest.raises(ValueError, match="unknown model arch 'gan'.*autoencoder"):
        build_model("gan")


def test_build_model_unknown_hparam_is_named():
    with pytest.raises(ValueError, match="latent_size"):
        build_model("autoencoder", latent_size=3)


@pytest.mark.parametrize(
    ("hparams", "name"),
    [
        ({"inp_size": 100}, "inp_size"),
        ({"inp_size": 8, "intermediate_resolution": 8}, "intermediate_resolution"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"width": 2.5}, "width"),
    ],
)
def test_build_model_bad_values_are_named(hparams, name):
    with pytest.raises(ValueError, match=name):
        build_model("autoencoder", **hparams)


# ------------------------------------------------------------------------------------------
# checkpoints


def write_model_ckpt(path: Path, arch: str, hparams: dict, model: nn.Module) -> None:
    save_checkpoint(
        path, {"arch": arch, "hparams": hparams, "state_dict": model.state_dict(), "step": 3}
    )


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_checkpoint_round_trip_gives_identical_reconstructions(tmp_path, arch):
    model = seeded(arch, **TINY[arch])
    model.train()(torch.rand(4, 1, 32, 32))  # move BN statistics / codebooks off their init
    path = tmp_path / "m.pt"
    write_model_ckpt(path, arch, TINY[arch], model)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"arch", "hparams", "state_dict", "step"}
    loaded = load_model(path)
    assert not loaded.training
    x = brain_slices(3, 32, seed=0)
    np.testing.assert_array_equal(reconstruct(loaded, x), reconstruct(model, x))


def test_load_model_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_model(tmp_path / "nope.pt")


def test_load_model_truncated_file(tmp_path):
    path = tmp_path / "m.pt"
    write_model_ckpt(
        path, "autoencoder", TINY["autoencoder"], seeded("autoencoder", **TINY["autoencoder"])
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="m.pt.*corrupt"):
        load_model(path)


def test_load_model_dict_without_keys(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"arch": "autoencoder", "weights": {}}, path)
    with pytest.raises(CheckpointError, match=r"lacks key\(s\) \['hparams', 'state_dict'\]"):
        load_model(path)
    torch.save([1, 2], path)
    with pytest.raises(CheckpointError, match="expected a dict"):
        load_model(path)


def test_load_model_unknown_arch(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, {"arch": "transformer", "hparams": {}, "state_dict": {}})
    with pytest.raises(CheckpointError, match="transformer.*valid.*vqvae2"):
        load_model(path)


def test_load_model_weights_of_another_latent_size(tmp_path):
    hp = dict(TINY["autoencoder"])
    model = seeded("autoencoder", **hp)
    path = tmp_path / "m.pt"
    save_checkpoint(
        path,
        {
            "arch": "autoencoder",
            "hparams": {**hp, "latent_dim": 4},
            "state_dict": model.state_dict(),
        },
    )
    with pytest.raises(
        CheckpointError, match=r"to_latent.weight: checkpoint \(8, 256\) vs model \(4, 256\)"
    ):
        load_model(path)


def test_load_model_weights_of_another_arch(tmp_path):
    path = tmp_path / "m.pt"
    model = seeded("spatial_autoencoder", **TINY["spatial_autoencoder"])
    save_checkpoint(
        path, {"arch": "vqvae2", "hparams": TINY["vqvae2"], "state_dict": model.state_dict()}
    )
    with pytest.raises(CheckpointError, match="missing keys: enc_b.*unexpected keys: encoder"):
        load_model(path)


def test_save_checkpoint_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_checkpoint(path, {"arch": "a", "hparams": {}, "state_dict": {}, "step": 1})
    real_save = torch.save

    def failing_save(obj, fh, *args, **kwargs):
        real_save(obj, fh, *args, **kwargs)
        fh.seek(10)
        fh.truncate()  # a half-written file, then the "crash"
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"arch": "a", "hparams": {}, "state_dict": {}, "step": 2})
    monkeypatch.undo()
    assert read_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


# ------------------------------------------------------------------------------------------
# inference


def test_reconstruct_is_batched_eval_mode_and_float32():
    model = seeded("autoencoder", **TINY["autoencoder"])
    model.train()(torch.rand(8, 1, 32, 32))  # non-trivial running statistics
    x = brain_slices(7, 32, seed=0)
    out = reconstruct(model, x, batch_size=3)
    assert out.shape == x.shape and out.dtype == np.float32
    assert not model.training
    # eval-mode BN: each image's reconstruction does not depend on its batch mates
    np.testing.assert_allclose(out, reconstruct(model, x, batch_size=7), atol=1e-6)
    with torch.no_grad():
        expected = model(torch.from_numpy(x[2:3])[:, None])[0, 0].numpy()
    np.testing.assert_allclose(out[2], expected, atol=1e-6)


def test_reconstruct_eval_mode_freezes_vqvae_codebooks():
    model = seeded("vqvae2", **TINY["vqvae2"])
    before = model.quantize_b.embed.clone()
    reconstruct(model.train(), brain_slices(4, 32, seed=0))
    assert torch.equal(model.quantize_b.embed, before)


def state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    now = model.state_dict()
    assert sorted(now) == sorted(state)
    for key, value in state.items():
        assert torch.equal(now[key], value), key


def trained_autoencoder() -> nn.Module:
    """A tiny AE whose BatchNorm running statistics are far from any single image's."""
    model = seeded("autoencoder", **TINY["autoencoder"])
    with torch.no_grad():
        model.train()(torch.rand(8, 1, 32, 32) * 3.0 + 1.0)
    return model.eval()


def test_per_image_batchnorm_normalises_each_image_by_its_own_statistics():
    model = trained_autoencoder()
    state = state_copy(model)
    x = brain_slices(5, 32, seed=4)
    out = reconstruct(model, x, batch_size=4, batchnorm="per_image")
    assert_same_state(model, state)  # running statistics, counters: untouched
    assert not any(m.training for m in model.modules())
    # The original: a model never put in eval mode, one image at a time (on a throwaway copy).
    for i in range(len(x)):
        original = copy.deepcopy(model).train()
        with torch.no_grad():
            expected = original(torch.from_numpy(x[i : i + 1])[:, None])[0, 0].numpy()
        np.testing.assert_allclose(out[i], expected, atol=1e-5)
    assert np.abs(out - reconstruct(model, x)).max() > 1e-2  # it is not eval mode


def test_per_image_batchnorm_does_not_depend_on_order_or_batch_mates():
    model = trained_autoencoder()
    x = brain_slices(6, 32, seed=5)
    out = reconstruct(model, x, batch_size=6, batchnorm="per_image")
    order = np.random.default_rng(0).permutation(len(x))
    np.testing.assert_array_equal(
        reconstruct(model, x[order], batch_size=2, batchnorm="per_image"), out[order]
    )
    np.testing.assert_array_equal(reconstruct(model, x[2:3], batchnorm="per_image")[0], out[2])


class BatchNormDropoutNet(nn.Module):
    """Conv -> BatchNorm -> Dropout: per-image mode must keep dropout off."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.norm = nn.BatchNorm2d(3)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Conv2d(3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.norm(self.conv(x))))


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
@pytest.mark.parametrize("scripted", [False, True])
def test_per_image_batchnorm_keeps_dropout_off_and_works_for_torchscript(tmp_path, scripted):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        eager = BatchNormDropoutNet()
    eager.norm.running_mean.fill_(5.0)
    model = eager
    if scripted:
        path = tmp_path / "bn.torchscript.pt"
        torch.jit.save(torch.jit.script(eager), str(path))
        model = load_external_model(checkpoint=path)
    state = state_copy(model)
    x = brain_slices(4, 16, seed=6)
    out = reconstruct(model, x, batchnorm="per_image")
    assert_same_state(model, state)
    np.testing.assert_array_equal(reconstruct(model, x, batchnorm="per_image"), out)
    with torch.no_grad():
        h = eager.conv(torch.from_numpy(x)[:, None])
        mean = h.mean(dim=(2, 3), keepdim=True)
        var = h.var(dim=(2, 3), unbiased=False, keepdim=True)
        scale = eager.norm.weight[None, :, None, None]
        shift = eager.norm.bias[None, :, None, None]
        normed = (h - mean) / torch.sqrt(var + eager.norm.eps) * scale + shift
        expected = eager.out(normed)[:, 0].numpy()  # dropout off: the identity
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_per_image_batchnorm_leaves_a_model_without_batchnorm_unchanged():
    model = seeded("vqvae2", **TINY["vqvae2"])
    with torch.no_grad():
        model.train()(torch.rand(4, 1, 32, 32))  # codebooks away from their initialisation
    model.eval()
    state = state_copy(model)
    x = brain_slices(5, 32, seed=7)
    np.testing.assert_array_equal(
        reconstruct(model, x, batch_size=3, batchnorm="per_image"),
        reconstruct(model, x, batch_size=3),
    )
    assert_same_state(model, state)  # the codebooks never drift


class LatentBatchNormNet(nn.Module):
    """BatchNorm1d on a flat latent: one image has one value per channel there."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.norm(x.mean(dim=(2, 3)).repeat(1, 4)).mean(1)[:, None, None, None]


def test_per_image_batchnorm_on_a_single_value_per_channel_says_what_to_do():
    model = LatentBatchNormNet()
    x = brain_slices(3, 16, seed=0)
    assert reconstruct(model, x).shape == x.shape  # eval mode: fine
    state = state_copy(model)
    with pytest.raises(ValueError, match="LatentBatchNormNet.*evaluation.batchnorm: eval"):
        reconstruct(model, x, batchnorm="per_image")
    assert_same_state(model, state)
    assert not any(m.training for m in model.modules())


def test_reconstruct_rejects_an_unknown_batchnorm_mode():
    with pytest.raises(ValueError, match=r"batchnorm must be one of \['eval', 'per_image'\]"):
        reconstruct(TupleNet(), brain_slices(2, 16, seed=0), batchnorm="train")


class TupleNet(nn.Module):
    def forward(self, x):
        return x * 0.5, torch.zeros(())


class CropNet(nn.Module):
    def forward(self, x):
        return x[..., 1:, :]


class NaNNet(nn.Module):
    def forward(self, x):
        return x / 0.0 * 0.0


class InPlaceNet(nn.Module):
    """A user model that writes into its input: ``x.mul_(scale); return x``."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.mul_(self.scale)
        return x


class OutOfPlaceNet(InPlaceNet):
    """The same model written out of place."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def in_place_models(tmp_path: Path) -> dict[str, nn.Module]:
    """The in-place model as the pipeline loads it: class + state dict, and TorchScript."""
    weights = tmp_path / "in_place.pt"
    torch.save(InPlaceNet().state_dict(), weights)
    scripted = tmp_path / "in_place.torchscript.pt"
    torch.jit.save(torch.jit.script(InPlaceNet()), str(scripted))
    return {
        "class": load_external_model(checkpoint=weights, class_path=f"{__name__}:InPlaceNet"),
        "torchscript": load_external_model(checkpoint=scripted),
    }


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
@pytest.mark.parametrize("route", ["class", "torchscript"])
def test_a_model_writing_into_its_input_changes_neither_images_nor_scores(tmp_path, route):
    from residual_pitfalls.anomalies import anomaly_centres
    from residual_pitfalls.experiments.paper import model_intensity_curves

    model = in_place_models(tmp_path)[route]
    x = brain_slices(5, 32, seed=3)
    kept = x.copy()
    out = reconstruct(model, x, batch_size=2)
    np.testing.assert_array_equal(x, kept)  # the caller's images are untouched
    np.testing.assert_array_equal(out, kept * np.float32(0.5))
    assert not np.shares_memory(out, x)
    # Exp 3.1 and 3.2 through the real model: the same numbers as the out-of-place twin.
    centres = anomaly_centres(x, seed=0)
    kwargs = {"radius": 4, "intensities": np.linspace(0, 1, 5)}
    for mode in ("healthy", "anomalous"):
        frame, healthy = model_intensity_curves(
            x, centres, lambda b, m=model: reconstruct(m, b, batch_size=2), mode=mode, **kwargs
        )
        twin, twin_healthy = model_intensity_curves(
            x, centres, lambda b: reconstruct(OutOfPlaceNet(), b), mode=mode, **kwargs
        )
        np.testing.assert_array_equal(x, kept)
        pd.testing.assert_frame_equal(frame, twin)
        np.testing.assert_array_equal(healthy, twin_healthy)
        assert frame["ap"].min() < 0.9  # a half-intensity reconstruction is no perfect detector


def test_reconstruct_takes_first_element_of_a_tuple():
    x = brain_slices(3, 16, seed=0)
    np.testing.assert_array_equal(reconstruct(TupleNet(), x), x * 0.5)


def test_reconstruct_rejects_wrong_shape_and_nan():
    with pytest.raises(ValueError, match=r"CropNet returned shape \(2, 1, 15, 16\)"):
        reconstruct(CropNet(), brain_slices(2, 16, seed=0))
    with pytest.raises(ValueError, match="non-finite"):
        reconstruct(NaNNet(), brain_slices(2, 16, seed=0))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        reconstruct(TupleNet(), brain_slices(2, 16, seed=0)[0])


# ------------------------------------------------------------------------------------------
# external models


class TinyExternal(nn.Module):
    """A third-party model: one 3x3 conv, any size."""

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, 1, 1)
        )

    def forward(self, x):
        return self.body(x)


def tiny_external(channels: int = 4) -> TinyExternal:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return TinyExternal(channels)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_external_torchscript_route(tmp_path):
    model = tiny_external()
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    loaded = load_external_model(checkpoint=path)
    x = brain_slices(3, 16, seed=0)
    np.testing.assert_allclose(reconstruct(loaded, x), reconstruct(model, x), atol=1e-6)


@pytest.mark.parametrize("wrapped", [False, True])
def test_external_class_route(tmp_path, wrapped):
    model = tiny_external(channels=3)
    path = tmp_path / "weights.pt"
    state = model.state_dict()
    torch.save({"state_dict": state, "epoch": 7} if wrapped else state, path)
    loaded = load_external_model(
        checkpoint=path, class_path=f"{__name__}:TinyExternal", hparams={"channels": 3}
    )
    assert isinstance(loaded, TinyExternal) and not loaded.training
    x = brain_slices(3, 16, seed=0)
    np.testing.assert_array_equal(reconstruct(loaded, x), reconstruct(model, x))


def test_external_errors(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(tiny_external(channels=3).state_dict(), path)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_external_model(checkpoint=tmp_path / "missing.pt")
    with pytest.raises(ImportError, match="no_such_package"):
        load_external_model(checkpoint=path, class_path="no_such_package.mod:Net")
    with pytest.raises(ImportError, match="NoSuchClass"):
        load_external_model(checkpoint=path, class_path=f"{__name__}:NoSuchClass")
    with pytest.raises(ValueError, match="package.module:ClassName"):
        load_external_model(checkpoint=path, class_path="TinyExternal")
    with pytest.raises(CheckpointError, match=r"body.0.weight: checkpoint \(3, 1, 3, 3\)"):
        load_external_model(
            checkpoint=path, class_path=f"{__name__}:TinyExternal", hparams={"channels": 5}
        )
    with pytest.raises(CheckpointError, match="TorchScript"):
        load_external_model(checkpoint=path)  # a state dict is not a TorchScript file


def test_sized_hparams_fill_the_input_size_only_where_the_class_takes_it():
    from residual_pitfalls.models import sized_hparams

    assert sized_hparams("autoencoder", {"latent_dim": 64}, 128) == {
        "inp_size": 128,
        "latent_dim": 64,
    }
    assert sized_hparams("spatial_autoencoder", {"inp_size": 64}, 128) == {"inp_size": 64}
    assert sized_hparams("vqvae2", {}, 128) == {}
    with pytest.raises(ValueError, match="unknown model arch 'unet'"):
        sized_hparams("unet", {}, 128)
