"""Issue 15: runs that finished with wrong numbers. Each test failed before its fix."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from residual_pitfalls.data.histograms import lesion_histogram
from residual_pitfalls.data.nifti import VolumeError
from residual_pitfalls.data.slices import build_slice_stack
from residual_pitfalls.data.spacing import check_common_spacing, voxel_spacing
from residual_pitfalls.data.volumes import load_volume
from residual_pitfalls.models import reconstruct
from residual_pitfalls.models.checks import check_model_for_evaluation, evaluation_reconstructor

# --------------------------------------------------------------------------- 7: voxel sizes


def test_mixed_voxel_sizes_are_refused_naming_the_files(tmp_path, write_nifti, make_phantom, rng):
    # nine volumes at 1 mm and one at 2 mm went through resize: pad without a word
    files = [
        write_nifti(tmp_path / f"{i:02d}.nii.gz", make_phantom((16, 16, 16), rng)) for i in range(4)
    ]
    coarse = np.diag([2.0, 2.0, 2.0, 1.0])
    files.append(write_nifti(tmp_path / "coarse.nii.gz", make_phantom((16, 16, 16), rng), coarse))
    with pytest.raises(
        VolumeError,
        match=r"different voxel sizes: 1 x 1 x 1 mm: 4 file.*"
        r"2 x 2 x 2 mm: 1 file\(s\) \('.*coarse\.nii\.gz'\)",
    ):
        build_slice_stack(files, [8], size=16)
    # one spacing (within 1 %) is fine, and reorient permutes the sizes like the voxels
    near = np.diag([1.005, 1.0, 1.0, 1.0])
    near_file = write_nifti(tmp_path / "near.nii.gz", make_phantom((16, 16, 16), rng), near)
    same = [*files[:4], near_file]
    stack, _ = build_slice_stack(same, [8], size=16)
    assert stack.shape == (5, 16, 16)
    assert check_common_spacing(same) == (1.0, 1.0, 1.0)
    swapped = np.array([[0, 0, 3.0, 0], [1.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 1]])
    path = write_nifti(tmp_path / "swapped.nii.gz", make_phantom((8, 8, 8), rng), swapped)
    assert voxel_spacing(path) == (1.0, 2.0, 3.0)
    assert voxel_spacing(path, reorient=True) == (3.0, 1.0, 2.0)


# --------------------------------------------------------------------------- 8: label values


def test_unknown_label_values_are_an_error_naming_file_and_values(tmp_path, write_nifti, rng):
    img = np.zeros((16, 16, 16), np.float32)
    img[2:14, 2:14, 2:14] = rng.uniform(0.2, 0.5, (12, 12, 12))
    label = np.zeros(img.shape, np.uint8)
    label[5:8, 5:8, 5:8] = 1
    label[10:12, 10:12, 10:12] = 2
    label[2:4, 2:4, 2:4] = 3  # a class the configuration does not mention
    img_path = write_nifti(tmp_path / "case_flair.nii.gz", img)
    lab_path = write_nifti(tmp_path / "case_seg.nii.gz", label)
    with pytest.raises(
        VolumeError,
        match=r"case_seg\.nii\.gz.*value\(s\) 3 \(8 voxels\).*"
        r"anomaly_values \[1\].*ignore_values \[2\]",
    ):
        lesion_histogram(
            [img_path], [lab_path], anomaly_values=[1], ignore_values=[2], normalisation="none"
        )
    hist = lesion_histogram(
        [img_path], [lab_path], anomaly_values=[1], ignore_values=[2, 3], normalisation="none"
    )
    assert hist["normal_count"].sum() == 12**3 - 27 - 8 - 8
    # the default (any label > 0 is anomalous) has no unknown values
    assert (
        lesion_histogram([img_path], [lab_path], normalisation="none")["anomalous_count"].sum()
        == 27 + 8 + 8
    )


# --------------------------------------------------------------------------- 9: padded noise


def test_noise_background_padded_with_zeros_is_refused(tmp_path, write_nifti, make_phantom, rng):
    # noise 0.001-0.02 around the brain, then zero padding: a clean border and few voxels > 0
    vol = make_phantom((24, 24, 24), rng, low=0.3, high=0.9)
    noisy = np.where(vol > 0, vol, rng.uniform(0.001, 0.02, vol.shape)).astype(np.float32)
    padded = np.pad(noisy, 12)
    assert (padded > 0).mean() < 0.6 and not padded[0].any()
    path = write_nifti(tmp_path / "padded.nii.gz", padded)
    with pytest.raises(
        VolumeError,
        match=r"padded\.nii\.gz.*% of the voxels > 0 are below 5 %"
        r".*background_threshold",
    ):
        load_volume(path, size=48)
    fixed = load_volume(path, size=48, background_threshold=0.02)
    np.testing.assert_array_equal(fixed, np.pad(vol, 12))
    # a brain with dark (but not faint) tissue passes
    dark = make_phantom((24, 24, 24), rng, low=0.06, high=1.0)
    np.testing.assert_array_equal(load_volume(write_nifti(tmp_path / "d.nii.gz", dark)), dark)


# --------------------------------------------------------------------------- 6, 10: models


class _BatchNormNet(nn.Module):
    def __init__(self, dropout: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.out = nn.Conv2d(4, 1, 3, padding=1)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm(self.conv(x)))
        if self.dropout:  # left on in eval mode
            h = nn.functional.dropout(h, 0.5, training=True)
        return self.out(h)


def _images(rng: np.random.Generator, n: int = 3) -> np.ndarray:
    return rng.uniform(0.2, 0.8, (n, 16, 16)).astype(np.float32)


def test_traced_model_with_per_image_batchnorm_is_refused_naming_it(rng, tmp_path):
    # a traced TorchScript model's eval and per-image curves were identical (max difference 0)
    images = _images(rng)
    torch.manual_seed(0)
    net = _BatchNormNet().eval()
    traced = torch.jit.trace(net, torch.tensor(images[:1, None]))
    scripted = torch.jit.script(net)
    # what went wrong: per_image changes nothing for the traced model, silently
    for model in (net, scripted):
        assert not np.array_equal(
            reconstruct(model, images, batchnorm="per_image"), reconstruct(model, images)
        )
    np.testing.assert_allclose(  # one image per batch against eight: float rounding only
        reconstruct(traced, images, batchnorm="per_image"), reconstruct(traced, images), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"model 'my_traced'.*per_image.*torch\.jit\.script"):
        check_model_for_evaluation(traced, "my_traced", images, batchnorm="per_image")
    for model in (net, scripted):  # their BatchNorm switches: accepted
        assert not check_model_for_evaluation(model, "ok", images, batchnorm="per_image")
    assert not check_model_for_evaluation(traced, "my_traced", images, batchnorm="eval")
    # every Exp 3/4 job gets its reconstructor through one function that runs the check
    path = str(tmp_path / "traced.pt")
    traced.save(path)
    settings = {"spec": {"checkpoint": path}, "name": "my_traced", "batch_size": 4}
    with pytest.raises(ValueError, match=r"model 'my_traced'.*per_image"):
        evaluation_reconstructor(path, images, **settings, batchnorm="per_image")
    run = evaluation_reconstructor(path, images, **settings, batchnorm="eval")
    np.testing.assert_array_equal(run(images), reconstruct(traced, images, batch_size=4))


def test_stochastic_model_is_seeded_and_named(rng):
    # dropout left on in eval: a forced rerun gave other APs (mean 0.239 -> 0.222)
    images = _images(rng)
    torch.manual_seed(0)
    model = _BatchNormNet(dropout=True).eval()
    state = torch.get_rng_state()
    first, second = reconstruct(model, images), reconstruct(model, images)
    np.testing.assert_array_equal(first, second)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left alone
    with pytest.warns(UserWarning, match=r"model 'noisy' is stochastic.*seed 0"):
        assert check_model_for_evaluation(model, "noisy", images)
    quiet = _BatchNormNet().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not check_model_for_evaluation(quiet, "quiet", images)
