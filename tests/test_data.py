"""Tests for the residual_pitfalls.data package on tiny NIfTI volumes written into tmp_path."""

from __future__ import annotations

import gzip
import logging
import os
import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from skimage import exposure

from residual_pitfalls.data.companions import drop_companions, pair_files
from residual_pitfalls.data.histograms import (
    brain_histogram,
    brain_intensity_summary,
    equalise_histogram,
    lesion_histogram,
)
from residual_pitfalls.data.nifti import VolumeError, list_volumes
from residual_pitfalls.data.slices import build_slice_stack, extract_slices
from residual_pitfalls.data.split import split_volumes
from residual_pitfalls.data.volumes import NORMALISATIONS, RESIZERS, load_volume

# --------------------------------------------------------------------------- list_volumes


def test_list_volumes_sorted_skips_hidden_and_other_files(tmp_path, write_nifti, rng):
    vol = np.zeros((4, 4, 4), np.float32)
    for name in ["b/00002.nii.gz", "a/00001.nii.gz", "a/00000.nii.gz", "a/._00000.nii.gz"]:
        write_nifti(tmp_path / name, vol)
    (tmp_path / "a" / "notes.txt").write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_volumes(tmp_path, "*/*.nii.gz")] == [
        "a/00000.nii.gz",
        "a/00001.nii.gz",
        "b/00002.nii.gz",
    ]
    assert len(list_volumes(tmp_path, "**/*.nii.gz")) == 3
    assert [p.name for p in list_volumes(tmp_path / "a")] == ["00000.nii.gz", "00001.nii.gz"]


def test_list_volumes_warns_about_broken_and_looping_symlinks(tmp_path, write_nifti, rng, caplog):
    # they were skipped without a word
    write_nifti(tmp_path / "00000.nii.gz", np.zeros((4, 4, 4), np.float32))
    (tmp_path / "00001.nii.gz").symlink_to(tmp_path / "gone" / "00001.nii.gz")
    (tmp_path / "loop_a.nii.gz").symlink_to(tmp_path / "loop_b.nii.gz")
    (tmp_path / "loop_b.nii.gz").symlink_to(tmp_path / "loop_a.nii.gz")
    with caplog.at_level(logging.WARNING, logger="residual_pitfalls.data"):
        assert [p.name for p in list_volumes(tmp_path)] == ["00000.nii.gz"]
    assert "3 broken or looping symlink(s)" in caplog.text
    assert "00001.nii.gz, loop_a.nii.gz, loop_b.nii.gz" in caplog.text


def test_list_volumes_missing_root(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="nope"):
        list_volumes(missing)


def test_list_volumes_no_match_names_root_and_pattern(nifti_folder):
    with pytest.raises(ValueError, match=r"volumes.*\*_flair\.nii\.gz"):
        list_volumes(nifti_folder, "*_flair.nii.gz")


# --------------------------------------------------------------------------- bad volumes


def test_corrupt_file_is_named(tmp_path):
    bad = tmp_path / "corrupt.nii.gz"
    bad.write_bytes(b"this is not a nifti file at all" * 10)
    with pytest.raises(VolumeError, match=r"corrupt\.nii\.gz.*could not be read as NIfTI"):
        load_volume(bad)


def test_truncated_gzip_is_named(tmp_path, write_nifti, make_phantom, rng):
    good = write_nifti(tmp_path / "good.nii.gz", make_phantom((16, 16, 16), rng))
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(VolumeError, match=r"cut\.nii\.gz.*could not be read as NIfTI"):
        load_volume(cut)


def test_truncated_uncompressed_is_named(tmp_path, write_nifti, make_phantom, rng):
    good = write_nifti(tmp_path / "good.nii", make_phantom((16, 16, 16), rng))
    cut = tmp_path / "cut.nii"
    cut.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(VolumeError, match=r"cut\.nii.*could not be read as NIfTI"):
        load_volume(cut)


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 16, 2)])
def test_not_3d_names_file_and_shape(tmp_path, write_nifti, shape):
    path = write_nifti(tmp_path / "wrongdim.nii.gz", np.full(shape, 0.5, np.float32))
    with pytest.raises(VolumeError, match=r"wrongdim.*expected a 3-D volume") as info:
        load_volume(path)
    assert str(shape) in str(info.value)


def test_trailing_singleton_4th_dim_is_squeezed(tmp_path, write_nifti, make_phantom, rng):
    vol = make_phantom((16, 16, 16), rng)
    path = write_nifti(tmp_path / "v4.nii.gz", vol[..., None])
    np.testing.assert_array_equal(load_volume(path), vol)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_voxels_are_counted(tmp_path, write_nifti, make_phantom, rng, bad_value):
    vol = make_phantom((16, 16, 16), rng)
    vol[0, 0, :3] = bad_value
    path = write_nifti(tmp_path / "nonfinite.nii.gz", vol)
    with pytest.raises(VolumeError, match=r"nonfinite\.nii\.gz.* 3 NaN or inf"):
        load_volume(path)


def test_all_zero_volume(tmp_path, write_nifti):
    path = write_nifti(tmp_path / "zeros.nii.gz", np.zeros((16, 16, 16), np.float32))
    for normalisation in NORMALISATIONS:
        with pytest.raises(VolumeError, match=r"zeros\.nii\.gz.*empty brain mask"):
            load_volume(path, normalisation=normalisation)


def test_empty_mask_file(tmp_path, write_nifti, make_phantom, rng):
    path = write_nifti(tmp_path / "img.nii.gz", make_phantom((16, 16, 16), rng))
    mask = write_nifti(tmp_path / "emptymask.nii.gz", np.zeros((16, 16, 16), np.uint8))
    with pytest.raises(VolumeError, match=r"img\.nii\.gz.*emptymask.*empty brain mask"):
        load_volume(path, mask_path=mask)


def test_mask_shape_mismatch(tmp_path, write_nifti, make_phantom, rng):
    path = write_nifti(tmp_path / "img.nii.gz", make_phantom((16, 16, 16), rng))
    mask = write_nifti(tmp_path / "small_mask.nii.gz", np.ones((8, 16, 16), np.uint8))
    with pytest.raises(VolumeError, match=r"small_mask.*\(8, 16, 16\).*img\.nii\.gz"):
        load_volume(path, mask_path=mask)


def test_out_of_range_with_normalisation_none(tmp_path, write_nifti, make_phantom, rng):
    vol = make_phantom((16, 16, 16), rng, low=10, high=250)
    vol[8, 8, 8] = 300.0
    path = write_nifti(tmp_path / "raw.nii.gz", vol)
    with pytest.raises(VolumeError, match=r"raw\.nii\.gz.*\[0, 300\].*percentile"):
        load_volume(path, normalisation="none")
    neg = vol / vol.max()
    neg[0, 0, 0] = -0.25
    path = write_nifti(tmp_path / "negative.nii.gz", neg)
    with pytest.raises(VolumeError, match=r"negative\.nii\.gz.*1 negative voxels.*-0.25"):
        load_volume(path)


def test_faint_noise_background_is_refused(tmp_path, write_nifti, make_phantom, rng):
    # a 0.001-0.02 noise background made every pixel "brain" and changed Fig. 1(a)
    vol = make_phantom((16, 16, 16), rng, low=0.3, high=0.9)
    noisy = np.where(vol > 0, vol, rng.uniform(0.001, 0.02, vol.shape)).astype(np.float32)
    path = write_nifti(tmp_path / "noisy.nii.gz", noisy)
    with pytest.raises(
        VolumeError, match=r"noisy\.nii\.gz': 100 % of the voxels.*background_threshold"
    ):
        load_volume(path, size=16)
    fixed = load_volume(path, size=16, background_threshold=0.02)
    np.testing.assert_array_equal(fixed, vol)
    mask = write_nifti(tmp_path / "mask.nii.gz", (vol > 0).astype(np.uint8))
    np.testing.assert_array_equal(load_volume(path, mask_path=mask), vol)


def test_zscored_volume_is_refused(tmp_path, write_nifti, make_phantom, rng):
    # z-scored data with normalisation percentile silently lost every brain voxel below 0
    vol = make_phantom((16, 16, 16), rng, low=0.1, high=0.9)
    brain = vol > 0
    z = np.zeros_like(vol)
    z[brain] = (vol[brain] - vol[brain].mean()) / vol[brain].std()
    path = write_nifti(tmp_path / "z.nii.gz", z)
    with pytest.raises(VolumeError, match=r"z\.nii\.gz' has \d+ negative voxels.*z-scored"):
        load_volume(path, normalisation="percentile")


def test_head_with_skull_needs_a_mask(tmp_path, write_nifti, make_phantom, rng):
    head = make_phantom((16, 16, 16), rng)
    head[head == 0] = 0.05  # skull and scalp everywhere around the brain
    path = write_nifti(tmp_path / "head.nii.gz", head)
    with pytest.raises(VolumeError, match=r"head\.nii\.gz.*not skull-stripped.*mask"):
        load_volume(path)


def test_brain_share_bound_passes_realistic_brains(tmp_path, write_nifti):
    from residual_pitfalls.data.synthetic import synthetic_volume

    volume, _ = synthetic_volume(0, seed=0, size=32)
    path = write_nifti(tmp_path / "synthetic.nii.gz", volume)
    np.testing.assert_array_equal(load_volume(path), volume)
    # an ellipsoid filling its box (52 %: tighter than any real brain's bounding box) passes
    grids = np.meshgrid(*((np.arange(20) + 0.5) / 10 - 1,) * 3, indexing="ij")
    box = (sum(g**2 for g in grids) <= 1.0).astype(np.float32) * 0.5
    assert 0.5 < (box > 0).mean() < 0.6
    load_volume(write_nifti(tmp_path / "box.nii.gz", box))


def _patch_header(path: Path, offset: int, data: bytes) -> Path:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + len(data)] = data
    path.write_bytes(bytes(raw))
    return path


def test_all_zero_sform_with_reorient_is_named(tmp_path, write_nifti, make_phantom, rng):
    # nibabel's OrientationError did not name the file
    path = write_nifti(tmp_path / "nosform.nii", make_phantom((8, 8, 8), rng))
    _patch_header(path, 252, struct.pack("<2h", 0, 1))  # qform_code 0, sform_code 1
    _patch_header(path, 280, bytes(48))  # srow_x, srow_y, srow_z all zero
    with pytest.raises(VolumeError, match=r"nosform\.nii.*affine.*all zero.*reorient: false"):
        load_volume(path, reorient=True)
    assert load_volume(path, reorient=False).shape == (8, 8, 8)


def test_header_claiming_huge_shape_is_refused_before_reading(tmp_path, write_nifti, rng):
    # a header claiming 3000^3 voxels ended in a bare MemoryError
    path = write_nifti(tmp_path / "huge.nii", np.zeros((8, 8, 8), np.float32))
    _patch_header(path, 40, struct.pack("<4h", 3, 3000, 3000, 3000))  # dim[0..3]
    with pytest.raises(VolumeError, match=r"huge\.nii.*\(3000, 3000, 3000\).*corrupt"):
        load_volume(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="ghost"):
        load_volume(tmp_path / "ghost.nii.gz")


def test_unknown_names_list_valid_ones(nifti_folder):
    path = list_volumes(nifti_folder)[0]
    with pytest.raises(ValueError, match=r"'zscore'.*\['none', 'percentile'\]"):
        load_volume(path, normalisation="zscore")
    with pytest.raises(ValueError, match=r"'cubic'.*\['pad', 'resample'\]"):
        load_volume(path, size=8, resize="cubic")
    assert set(RESIZERS) == {"pad", "resample"}


# --------------------------------------------------------------------------- good volumes


def test_none_keeps_values_and_mask_zeroes_outside(tmp_path, write_nifti, make_phantom, rng):
    vol = make_phantom((16, 16, 16), rng)
    path = write_nifti(tmp_path / "v.nii.gz", vol)
    out = load_volume(path)
    assert out.dtype == np.float32 and out.shape == (16, 16, 16)
    np.testing.assert_array_equal(out, vol)

    mask = np.zeros((16, 16, 16), np.uint8)
    mask[:8] = 1
    masked = load_volume(path, mask_path=write_nifti(tmp_path / "m.nii.gz", mask))
    np.testing.assert_array_equal(masked[:8], vol[:8])
    assert not masked[8:].any()


def test_percentile_normalisation(tmp_path, write_nifti, make_phantom, rng):
    raw = make_phantom((20, 20, 20), rng, low=50, high=1500)
    path = write_nifti(tmp_path / "raw.nii.gz", raw)
    out = load_volume(path, normalisation="percentile")
    brain = raw > 0
    assert out.dtype == np.float32
    assert np.all(out[~brain] == 0) and np.all(out[brain] > 0)
    assert out.max() == 1.0
    p_lo, p_hi = np.percentile(raw[brain], [0.5, 99.5])
    expected = np.clip(raw[brain], p_lo, p_hi) / p_hi
    np.testing.assert_allclose(out[brain], expected, rtol=1e-6)
    # percentile scaling is scale invariant: a scanner gain must not change the result
    scaled = write_nifti(tmp_path / "scaled.nii.gz", raw * 7.5)
    np.testing.assert_allclose(load_volume(scaled, normalisation="percentile"), out, rtol=1e-5)


def test_percentiles_are_a_parameter(tmp_path, write_nifti, make_phantom, rng):
    vol = make_phantom((16, 16, 16), rng, low=10, high=250)
    path = write_nifti(tmp_path / "raw.nii.gz", vol)
    brain = vol > 0
    full = load_volume(path, normalisation="percentile", percentiles=(0, 100))
    np.testing.assert_allclose(full[brain], vol[brain] / vol.max(), rtol=1e-6)
    assert full[brain].min() == pytest.approx(vol[brain].min() / vol.max())  # not 0: [lo/hi, 1]
    lo, hi = np.percentile(vol[brain], (5, 95))
    tight = load_volume(path, normalisation="percentile", percentiles=[5, 95])
    np.testing.assert_allclose(tight[brain], np.clip(vol[brain], lo, hi) / hi, rtol=1e-6)
    with pytest.raises(ValueError, match=r"percentiles.*lo < hi.*\[95, 5\]"):
        load_volume(path, normalisation="percentile", percentiles=[95, 5])


def test_histogram_settings_are_config_keys():
    import yaml
    from helpers import REPO
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert config["histograms"] == {"bins": 100, "equalisation_bins": 256}
    del config["histograms"]
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    assert config["histograms"] == {"bins": 100, "equalisation_bins": 256}  # schema defaults
    assert config["datasets"]["mood"]["percentiles"] == [0.5, 99.5]


def test_percentile_with_mask_ignores_skull(tmp_path, write_nifti, make_phantom, rng):
    brain_vol = make_phantom((16, 16, 16), rng, low=100, high=200)
    with_skull = brain_vol.copy()
    with_skull[brain_vol == 0] = 5000.0  # bright "skull" everywhere outside the brain
    path = write_nifti(tmp_path / "skull.nii.gz", with_skull)
    mask = write_nifti(tmp_path / "mask.nii.gz", (brain_vol > 0).astype(np.uint8))
    out = load_volume(path, normalisation="percentile", mask_path=mask)
    ref = load_volume(
        write_nifti(tmp_path / "stripped.nii.gz", brain_vol), normalisation="percentile"
    )
    np.testing.assert_array_equal(out, ref)


def test_reorient_to_ras(tmp_path, write_nifti, make_phantom, rng):
    vol = make_phantom((16, 12, 10), rng)
    path = write_nifti(tmp_path / "las.nii.gz", vol, affine=np.diag([-1.0, 1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(load_volume(path), vol)
    np.testing.assert_array_equal(load_volume(path, reorient=True), vol[::-1])


def test_resize_pad_and_crop(tmp_path, write_nifti, rng):
    vol = np.zeros((6, 10, 8), np.float32)
    vol[1:5, 1:9, 1:7] = rng.uniform(0.1, 1.0, (4, 8, 6))  # the crop removes background only
    path = write_nifti(tmp_path / "box.nii.gz", vol)
    out = load_volume(path, size=8, resize="pad")
    assert out.shape == (8, 8, 8)
    # axis 0 padded 1 + 1, axis 1 cropped from index 1, axis 2 unchanged
    np.testing.assert_array_equal(out[1:7], vol[:, 1:9, :])
    assert not out[0].any() and not out[7].any()
    np.testing.assert_array_equal(load_volume(path), vol)  # no size: untouched


def test_resize_pad_refuses_to_crop_brain(tmp_path, write_nifti, make_phantom, rng):
    # a brain larger than image_size was silently cut at all four borders
    path = write_nifti(tmp_path / "big.nii.gz", make_phantom((24, 30, 24), rng))
    with pytest.raises(VolumeError, match=r"big.nii.gz.*\(24, 30, 24\).*16\^3.*resample.*>= 30"):
        load_volume(path, size=16, resize="pad")
    assert load_volume(path, size=16, resize="resample").shape == (16, 16, 16)
    assert load_volume(path, size=30, resize="pad").shape == (30, 30, 30)


def test_resize_resample(tmp_path, write_nifti):
    vol = np.zeros((8, 16, 12), np.float32)
    vol[2:6, 4:12, 3:9] = 0.8
    path = write_nifti(tmp_path / "small.nii.gz", vol)
    out = load_volume(path, size=32, resize="resample")
    assert out.shape == (32, 32, 32) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() <= 0.8 + 1e-6
    assert out[0, 0, 0] == 0 and out[16, 16, 16] == pytest.approx(0.8)
    # zoom factor 2 on every axis: the brain box doubles in every direction
    extent = [np.ptp(np.nonzero(out > 0.4)[a]) + 1 for a in range(3)]
    assert extent == [8, 16, 12]


def test_user_files_never_modified(tmp_path, write_nifti, make_phantom, rng):
    root = tmp_path / "user"
    write_nifti(root / "a.nii.gz", make_phantom((16, 16, 16), rng))
    write_nifti(root / "b.nii", make_phantom((16, 16, 16), rng, low=5, high=50))
    write_nifti(root / "b_mask.nii", np.ones((16, 16, 16), np.uint8))
    files = sorted(p for p in root.iterdir())
    past = 1_000_000_000
    for f in files:
        os.utime(f, ns=(past, past))
    before = {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in files}

    a = load_volume(root / "a.nii.gz")
    b = load_volume(root / "b.nii", normalisation="percentile", mask_path=root / "b_mask.nii")
    a[:] = 0.5  # writing into the returned arrays must not reach the files
    b[:] = 0.5
    build_slice_stack(list_volumes(root, "a.nii.gz"), [3, 4])

    assert sorted(root.iterdir()) == files
    assert {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in files} == before
    assert not np.all(load_volume(root / "a.nii.gz") == 0.5)


# --------------------------------------------------------------------------- split


def fake_files(n: int) -> list[Path]:
    return [Path(f"/data/{i:05d}.nii.gz") for i in range(n)]


def test_split_counts_match_the_paper():
    split = split_volumes(fake_files(800))
    assert {k: len(v) for k, v in split.items()} == {"train": 456, "val": 24, "test": 320}
    assert split["val"][0].name == "00000.nii.gz" and split["train"][0].name == "00024.nii.gz"
    assert split["test"][0].name == "00480.nii.gz" and split["test"][-1].name == "00799.nii.gz"


def test_split_is_sorted_partition_independent_of_input_order(rng):
    files = fake_files(37)
    shuffled = [files[i] for i in rng.permutation(len(files))]
    split = split_volumes(shuffled, train_fraction=0.6, val_fraction=0.1)
    assert split == split_volumes(files, train_fraction=0.6, val_fraction=0.1)
    assert split["val"] + split["train"] + split["test"] == files
    assert {k: len(v) for k, v in split.items()} == {"train": 20, "val": 2, "test": 15}


def test_split_independent_of_creation_order(tmp_path, write_nifti):
    vol = np.full((4, 4, 4), 0.5, np.float32)
    for folder, order in (("fwd", range(6)), ("rev", reversed(range(6)))):
        for i in order:
            write_nifti(tmp_path / folder / f"{i:05d}.nii.gz", vol)
    fwd = split_volumes(list_volumes(tmp_path / "fwd"))
    rev = split_volumes(list_volumes(tmp_path / "rev"))
    for key in fwd:
        assert [p.name for p in fwd[key]] == [p.name for p in rev[key]]


def test_split_minimal_and_too_few():
    with pytest.raises(ValueError, match=r"3 volumes.*train=0, val=1, test=2.*at least 4"):
        split_volumes(fake_files(3))
    split = split_volumes(fake_files(4))  # the minimum the message promises works
    assert all(len(v) == 1 or k == "test" for k, v in split.items())
    with pytest.raises(ValueError, match=r"1 volumes.*test=1"):
        split_volumes(fake_files(1), val_fraction=0.0)


@pytest.mark.parametrize(
    ("n", "train_fraction", "val_fraction"), [(1, 0.6, 0.05), (10, 0.05, 0.05), (2, 0.6, 0.5)]
)
def test_split_never_puts_a_volume_in_two_splits(n, train_fraction, val_fraction):
    # one volume (or ten at train_fraction 0.05) gave train=-1 and the same volume in val and test
    with pytest.raises(ValueError, match=r"too few for split\.train_fraction=.*train=-?\d"):
        split_volumes(fake_files(n), train_fraction=train_fraction, val_fraction=val_fraction)


def test_split_is_disjoint_for_every_count():
    for n in range(1, 60):
        for fractions in ((0.6, 0.05), (0.05, 0.05), (0.5, 0.0), (0.9, 0.3)):
            try:
                split = split_volumes(
                    fake_files(n), train_fraction=fractions[0], val_fraction=fractions[1]
                )
            except ValueError:
                continue
            parts = [set(v) for v in split.values()]
            assert sum(map(len, parts)) == n == len(set.union(*parts))
            assert split["train"] and split["test"] and (split["val"] or fractions[1] == 0)


def test_split_refuses_one_subject_under_two_names(tmp_path, write_nifti):
    vol = np.full((4, 4, 4), 0.5, np.float32)
    for i in range(6):
        write_nifti(tmp_path / "data" / "site" / f"{i:05d}.nii.gz", vol)
    (tmp_path / "data" / "alias").symlink_to(tmp_path / "data" / "site")
    files = list_volumes(tmp_path / "data", "*/*.nii.gz")
    assert len(files) == 12
    with pytest.raises(ValueError, match=r"alias/00000.nii.gz' and '.*site/00000.nii.gz'"):
        split_volumes(files)


def test_split_without_validation_and_bad_input():
    split = split_volumes(fake_files(10), val_fraction=0.0)
    assert split["val"] == [] and len(split["train"]) == 6 and len(split["test"]) == 4
    with pytest.raises(ValueError, match="00001.nii.gz' are the same file"):
        split_volumes(fake_files(5) + [Path("/data/00001.nii.gz")])
    with pytest.raises(ValueError, match="train_fraction"):
        split_volumes(fake_files(10), train_fraction=1.0)


# --------------------------------------------------------------------------- slices


def test_extract_slices(rng):
    vol = rng.random((5, 6, 7)).astype(np.float32)
    out = extract_slices(vol, [4, 0], axis=2)
    assert out.shape == (2, 5, 6) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], vol[:, :, 4])
    np.testing.assert_array_equal(extract_slices(vol, range(2), axis=0)[1], vol[1])
    out[:] = -1
    assert vol.min() >= 0  # a copy, not a view


@pytest.mark.parametrize("index", [7, -1])
def test_extract_slices_out_of_range(rng, index):
    with pytest.raises(IndexError, match=f"index {index} out of range.*length 7"):
        extract_slices(rng.random((5, 6, 7)), [0, index])


def test_build_slice_stack(nifti_folder):
    files = list_volumes(nifti_folder)
    stack, prov = build_slice_stack(files, [7, 8], axis=2)
    assert stack.shape == (10, 16, 16) and stack.dtype == np.float32
    assert list(prov.columns) == ["image_id", "source", "slice_index", "axis"]
    assert prov["image_id"].tolist() == list(range(10))
    assert prov["slice_index"].tolist() == [7, 8] * 5 and set(prov["axis"]) == {2}
    for row in prov.itertuples():
        np.testing.assert_array_equal(
            stack[row.image_id], load_volume(Path(row.source))[:, :, row.slice_index]
        )
    threaded, prov2 = build_slice_stack(files, [7, 8], workers=2, progress=True)
    np.testing.assert_array_equal(threaded, stack)
    pd.testing.assert_frame_equal(prov2, prov)


def test_build_slice_stack_rejects_empty_test_slice(tmp_path, write_nifti, make_phantom, rng):
    vol = make_phantom((16, 16, 16), rng)  # ellipsoid: slice 0 along axis 2 is empty
    path = write_nifti(tmp_path / "edge.nii.gz", vol)
    stack, _ = build_slice_stack([path], [0, 8])  # allowed for training data
    assert not stack[0].any()
    with pytest.raises(VolumeError, match=r"slice 0 \(axis 2\) of .*edge\.nii\.gz.*no brain"):
        build_slice_stack([path], [0, 8], require_foreground=True)


def test_build_slice_stack_errors_name_the_file(tmp_path, write_nifti, make_phantom, rng):
    a = write_nifti(tmp_path / "a.nii.gz", make_phantom((16, 16, 16), rng))
    b = write_nifti(tmp_path / "b.nii.gz", make_phantom((20, 20, 16), rng))
    with pytest.raises(VolumeError, match=r"b\.nii\.gz.*\(20, 20\).*size="):
        build_slice_stack([a, b], [8])
    stack, _ = build_slice_stack([a, b], [8], size=20)
    assert stack.shape == (2, 20, 20)
    with pytest.raises(VolumeError, match=r"a\.nii\.gz.*index 16 out of range"):
        build_slice_stack([a], [16])
    with pytest.raises(ValueError, match="duplicate slice"):
        build_slice_stack([a], [3, 3])


# --------------------------------------------------------------------------- histograms


def test_equalise_histogram_matches_definition_and_flattens(rng):
    img = np.zeros((64, 64), np.float32)
    img[8:56, 8:56] = rng.beta(2, 8, (48, 48)).astype(np.float32) + 1e-3  # skewed, > 0
    out = equalise_histogram(img)
    mask = img > 0
    expected = exposure.equalize_hist(img, nbins=256, mask=mask) * mask
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.dtype == np.float32 and np.all(out[~mask] == 0) and np.all(out[mask] > 0)
    assert out.max() == pytest.approx(1.0)
    # equalised brain values are close to uniform on (0, 1]
    np.testing.assert_allclose(
        np.quantile(out[mask], [0.25, 0.5, 0.75]), [0.25, 0.5, 0.75], atol=0.02
    )


def test_equalise_histogram_is_per_slice(rng):
    stack = np.zeros((3, 32, 32), np.float32)
    stack[0, 4:28, 4:28] = rng.uniform(0.1, 0.3, (24, 24))
    stack[1, 8:20, 8:20] = rng.uniform(0.5, 0.9, (12, 12))
    out = equalise_histogram(stack)  # slice 2 has no brain
    assert out.shape == stack.shape and not out[2].any()
    for i in range(2):
        np.testing.assert_array_equal(out[i], equalise_histogram(stack[i]))
    with pytest.raises(ValueError, match="shape"):
        equalise_histogram(np.zeros(5))


def test_brain_histogram_counts_known_values():
    images = np.zeros((2, 4, 4), np.float32)
    images[0, 0, :3] = 0.055
    images[1, 2, 2] = 0.995
    hist = brain_histogram(images, bins=10)
    assert list(hist.columns) == ["bin_left", "bin_right", "count", "density"]
    assert hist["count"].tolist() == [3] + [0] * 8 + [1]
    assert hist["bin_left"].iloc[9] == pytest.approx(0.9)
    assert (hist["density"] * (hist["bin_right"] - hist["bin_left"])).sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="no brain pixels"):
        brain_histogram(np.zeros((2, 4, 4)))


def test_brain_intensity_summary_known_values():
    images = np.zeros((1, 4, 4), np.float32)
    images[0, 0, :4] = [0.1, 0.3, 0.3, 0.9]
    s = brain_intensity_summary(images, bins=10)
    assert s["n_pixels"] == 4
    assert s["mean"] == pytest.approx(0.4) and s["median"] == pytest.approx(0.3)
    assert s["mode"] == pytest.approx(0.35)
    assert s["fraction_0.2_0.6"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- labelled data


def test_pair_files_by_replace_brats_and_wmh(tmp_path, write_nifti):
    vol = np.ones((4, 4, 4), np.float32)
    flair = write_nifti(tmp_path / "BraTS2021_00001" / "BraTS2021_00001_flair.nii.gz", vol)
    seg = write_nifti(tmp_path / "BraTS2021_00001" / "BraTS2021_00001_seg.nii.gz", vol)
    assert pair_files([flair], replace=("_flair.nii.gz", "_seg.nii.gz")) == [seg]

    wmh_flair = write_nifti(tmp_path / "wmh" / "0" / "pre" / "FLAIR.nii.gz", vol)
    wmh = write_nifti(tmp_path / "wmh" / "0" / "wmh.nii.gz", vol)
    assert pair_files([wmh_flair], replace=("pre/FLAIR.nii.gz", "wmh.nii.gz")) == [wmh]


def test_pair_files_missing_companion_named(tmp_path, write_nifti):
    img = write_nifti(tmp_path / "p1" / "FLAIR.nii.gz", np.ones((4, 4, 4), np.float32))
    with pytest.raises(FileNotFoundError, match=r"p1/FLAIR\.nii\.gz.*p1/consensus_gt\.nii\.gz"):
        pair_files([img], replace=("FLAIR.nii.gz", "consensus_gt.nii.gz"))
    with pytest.raises(ValueError, match=r"does not contain '_t2'"):
        pair_files([img], replace=("_t2", "_seg"))
    with pytest.raises(ValueError, match="exactly one"):
        pair_files([img])


def test_masks_next_to_images_are_not_images(tmp_path, write_nifti):
    # the README's mask example with pattern "*.nii.gz" listed the masks as images too
    vol = np.ones((4, 4, 4), np.float32)
    for i in range(3):
        write_nifti(tmp_path / f"s{i}_t2.nii.gz", vol)
        write_nifti(tmp_path / f"s{i}_mask.nii.gz", vol)
    listed = list_volumes(tmp_path, "*.nii.gz")
    assert len(listed) == 6
    images = drop_companions(listed, replace=[("_t2.nii.gz", "_mask.nii.gz")])
    assert [p.name for p in images] == ["s0_t2.nii.gz", "s1_t2.nii.gz", "s2_t2.nii.gz"]
    masks = pair_files(images, replace=("_t2.nii.gz", "_mask.nii.gz"))
    assert [p.name for p in masks] == ["s0_mask.nii.gz", "s1_mask.nii.gz", "s2_mask.nii.gz"]
    (tmp_path / "pairs.csv").write_text("image,mask\ns0_t2.nii.gz,s0_mask.nii.gz\n")
    by_manifest = drop_companions(listed, manifests=[(tmp_path / "pairs.csv", "mask")])
    assert [p.name for p in by_manifest] == [p.name for p in listed if p.name != "s0_mask.nii.gz"]
    # a file that is neither image nor companion: the error says to narrow the pattern
    write_nifti(tmp_path / "s0_t1.nii.gz", vol)
    others = drop_companions(list_volumes(tmp_path), replace=[("_t2.nii.gz", "_mask.nii.gz")])
    with pytest.raises(ValueError, match=r"s0_t1\.nii\.gz.*narrow the data set's pattern.*'\*_t2"):
        pair_files(others, replace=("_t2.nii.gz", "_mask.nii.gz"))


def test_pair_files_by_manifest(tmp_path, write_nifti):
    vol = np.ones((4, 4, 4), np.float32)
    img1 = write_nifti(tmp_path / "patient01" / "FLAIR.nii.gz", vol)
    img2 = write_nifti(tmp_path / "patient02" / "FLAIR.nii.gz", vol)
    m1 = write_nifti(tmp_path / "patient01" / "patient01_brainmask.nii.gz", vol)
    m2 = write_nifti(tmp_path / "patient02" / "brainmask.nii.gz", vol)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "image,mask\npatient02/FLAIR.nii.gz,patient02/brainmask.nii.gz\n"
        "patient01/FLAIR.nii.gz,patient01/patient01_brainmask.nii.gz\n"
    )
    got = pair_files([img1, img2], manifest=manifest, column="mask")
    assert [p.resolve() for p in got] == [m1.resolve(), m2.resolve()]
    with pytest.raises(ValueError, match=r"manifest\.csv.*'label'.*\['image', 'mask'\]"):
        pair_files([img1], manifest=manifest)
    other = write_nifti(tmp_path / "patient03" / "FLAIR.nii.gz", vol)
    with pytest.raises(ValueError, match=r"patient03.*not listed in manifest"):
        pair_files([other], manifest=manifest, column="mask")


def lesion_case(tmp_path, write_nifti, rng, name="case"):
    """Image with a bright label-1 lesion, a label-2 region, and background outside a box."""
    img = np.zeros((16, 16, 16), np.float32)
    img[2:14, 2:14, 2:14] = rng.uniform(0.2, 0.5, (12, 12, 12))
    label = np.zeros(img.shape, np.uint8)
    label[5:8, 5:8, 5:8] = 1
    img[5:8, 5:8, 5:8] = rng.uniform(0.8, 0.95, (3, 3, 3))
    label[10:12, 10:12, 10:12] = 2
    label[0, 0, 0] = 1  # lesion label on background: must not be counted
    return (
        img,
        label,
        write_nifti(tmp_path / f"{name}_flair.nii.gz", img),
        write_nifti(tmp_path / f"{name}_seg.nii.gz", label),
    )


def test_lesion_histogram_wmh_style(tmp_path, write_nifti, rng):
    img, label, img_path, lab_path = lesion_case(tmp_path, write_nifti, rng)
    hist = lesion_histogram(
        [img_path], [lab_path], anomaly_values=[1], ignore_values=[2], normalisation="none"
    )
    assert hist["anomalous_count"].sum() == 27
    assert hist["normal_count"].sum() == 12**3 - 27 - 8
    widths = hist["bin_right"] - hist["bin_left"]
    assert (hist["normal_density"] * widths).sum() == pytest.approx(1)
    assert (hist["anomalous_density"] * widths).sum() == pytest.approx(1)
    centres = (hist["bin_left"] + hist["bin_right"]) / 2
    assert (centres * hist["anomalous_count"]).sum() / 27 > 0.75
    assert hist.loc[centres > 0.6, "normal_count"].sum() == 0


def test_lesion_histogram_brats_style_sums_over_volumes(tmp_path, write_nifti, rng):
    _, _, i1, l1 = lesion_case(tmp_path, write_nifti, rng, "a")
    _, _, i2, l2 = lesion_case(tmp_path, write_nifti, rng, "b")
    one = lesion_histogram([i1], [l1], normalisation="none")
    both = lesion_histogram([i1, i2], [l1, l2], normalisation="none")
    assert one["anomalous_count"].sum() == 27 + 8  # label > 0, nothing ignored
    assert both["anomalous_count"].sum() == 2 * 35
    mask = np.zeros((16, 16, 16), np.uint8)
    mask[:9] = 1  # keeps the label-1 lesion, drops the label-2 region
    mask_path = write_nifti(tmp_path / "a_mask.nii.gz", mask)
    masked = lesion_histogram([i1], [l1], mask_files=[mask_path], normalisation="none")
    assert masked["anomalous_count"].sum() == 27
    assert masked["normal_count"].sum() == 7 * 12 * 12 - 27
    scaled = lesion_histogram([i1], [l1], mask_files=[mask_path], normalisation="percentile")
    assert scaled["anomalous_count"].sum() == 27
    assert scaled.loc[scaled["bin_right"] == 1.0, "anomalous_count"].item() > 0


def test_lesion_histogram_errors(tmp_path, write_nifti, rng):
    _, _, img_path, lab_path = lesion_case(tmp_path, write_nifti, rng)
    small = write_nifti(tmp_path / "small_seg.nii.gz", np.ones((8, 8, 8), np.uint8))
    with pytest.raises(VolumeError, match=r"small_seg.*\(8, 8, 8\).*case_flair"):
        lesion_histogram([img_path], [small], normalisation="none")
    with pytest.raises(ValueError, match="no anomalous"):
        lesion_histogram([img_path], [lab_path], anomaly_values=[4], normalisation="none")
    with pytest.raises(ValueError, match="overlap"):
        lesion_histogram([img_path], [lab_path], anomaly_values=[1, 2], ignore_values=[2])
    with pytest.raises(ValueError, match="1 images, 2 labels"):
        lesion_histogram([img_path], [lab_path, lab_path])


def test_volumes_written_gzip_are_real_gzip(nifti_folder):
    # guards the fixtures: the truncation tests above rely on gzip-compressed files
    with gzip.open(list_volumes(nifti_folder)[0]) as fh:
        assert len(fh.read(348)) == 348
    assert nib.load(list_volumes(nifti_folder)[0]).shape == (16, 16, 16)


def test_build_slice_stack_applies_one_mask_per_volume(tmp_path, write_nifti, make_phantom, rng):
    volumes, masks = [], []
    for i in range(2):
        data = make_phantom((16, 16, 16), rng)
        mask = np.zeros_like(data)
        mask[:, : 8 + i] = 1  # a different mask per volume
        volumes.append(write_nifti(tmp_path / f"v{i}.nii.gz", data))
        masks.append(write_nifti(tmp_path / f"v{i}_mask.nii.gz", mask))
    stack, _ = build_slice_stack(volumes, [8], masks=masks)
    assert not stack[0][:, 8:].any() and not stack[1][:, 9:].any()
    assert stack[0][:, :8].any() and stack[1][:, 8].any()
    with pytest.raises(ValueError, match="1 mask files given for 2 volumes"):
        build_slice_stack(volumes, [8], masks=masks[:1])


# --------------------------------------------------------------------------- dataset config


def test_not_skull_stripped_dataset_needs_a_mask():
    # WMH FLAIR has skull and scalp: without a mask "voxels > 0" histogrammed the skull
    import yaml
    from helpers import REPO
    from snakemake.utils import validate

    from residual_pitfalls.architectures import ARCHITECTURES
    from residual_pitfalls.config import ConfigError, check_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for key, value in yaml.safe_load((REPO / "config" / "lesions.yaml").read_text()).items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    assert config["datasets"]["wmh"]["skull_stripped"] is False
    assert config["datasets"]["brats"]["skull_stripped"] is True  # the schema's default
    assert "mask" in config["datasets"]["wmh"]  # the preset reads them from a manifest
    del config["datasets"]["wmh"]["mask"]
    with pytest.raises(ConfigError, match=r"'datasets\.wmh\.mask' is required.*skull_stripped"):
        check_config(config, ARCHITECTURES)
    config["datasets"]["wmh"]["mask"] = {"manifest": "wmh_masks.csv"}
    check_config(config, ARCHITECTURES)
