"""Exp 4 (docs/lesions.md): painting, guard rails, the lesion-by-lesion table vs brute force."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from sklearn.metrics import average_precision_score

from residual_pitfalls.data.nifti import VolumeError
from residual_pitfalls.lesions.components import SliceStack
from residual_pitfalls.lesions.experiment import lesion_scores
from residual_pitfalls.lesions.labelled import ContrastMismatchError, load_labelled_volume
from residual_pitfalls.lesions.painting import LESION_KINDS, paint_lesions, write_lesion_set
from residual_pitfalls.lesions.prepare import prepare_lesion_set
from residual_pitfalls.lesions.summaries import by_intensity_table, exp1_prediction
from residual_pitfalls.reconstruction import blur
from residual_pitfalls.scorers.registry import resolve_scorers, score_maps

SIZE = 24


def healthy_volume(seed: int, size: int = SIZE) -> np.ndarray:
    """A slab of "brain" (a box, slices 8..16 along axis 2), smooth texture around 0.4."""
    rng = np.random.default_rng(seed)
    vol = np.zeros((size, size, size), np.float32)
    tex = ndimage.gaussian_filter(rng.standard_normal((size, size, size)), 1.5)
    tex = 0.4 + 0.08 * tex / tex.std()
    vol[3:-3, 3:-3, 8:16] = np.clip(tex, 0.05, 1.0)[3:-3, 3:-3, 8:16]
    return vol


def save(path, array, affine=None):
    nib.save(nib.Nifti1Image(np.asarray(array), np.eye(4) if affine is None else affine), str(path))
    return path


def cube(vol, lo, hi, z):
    mask = np.zeros(vol.shape, bool)
    mask[lo[0] : hi[0], lo[1] : hi[1], z[0] : z[1]] = True
    return mask


@pytest.fixture
def labelled_folder(tmp_path):
    """Two volumes, each with a lesion at the bulk's median (0.4) and a bright one (0.95)."""
    images, labels, train = [], [], []
    for i in range(2):
        vol = healthy_volume(i)
        train.append(np.moveaxis(vol, 2, 0)[8:16])
        label = np.zeros(vol.shape, np.uint8)
        inside, outside = cube(vol, (5, 5), (9, 9), (9, 12)), cube(vol, (13, 13), (17, 17), (9, 12))
        vol[inside], vol[outside] = 0.4, 0.95
        label[inside], label[outside] = 1, 2
        images.append(save(tmp_path / f"p{i}_flair.nii.gz", vol))
        labels.append(save(tmp_path / f"p{i}_seg.nii.gz", label))
    return images, labels, np.concatenate(train)


def prepare(images, labels, train, **kw):
    options = dict(
        set_name="hand",
        train_name="healthy",
        load={"normalisation": "none"},
        label_values={},
        axis=2,
        max_slices=100,
        min_size=1,
        max_wasserstein=0.05,
    )
    return prepare_lesion_set(images, labels, None, train, **{**options, **kw})


def healthy_reconstruction(stack: SliceStack, volumes) -> np.ndarray:
    """A model that reconstructs the healthy tissue (blurred): the lesion-free input, sigma 1."""
    return np.stack(
        [blur(volumes[v][:, :, k], 1.0) for v, k in zip(stack.volume, stack.slice, strict=True)]
    )


def test_hand_made_folder_shows_the_blind_spot_ordering(labelled_folder):
    images, labels, train = labelled_folder
    stack, components, summary = prepare(images, labels, train)
    assert summary["components"] == 4 and summary["healthy_slices"] > 0
    bright = components["mean_intensity"] > 0.9
    # percentile in the healthy histogram: the median lesion sits in the bulk, the bright one above
    assert components.loc[~bright, "percentile"].between(35, 65).all()
    assert (components.loc[bright, "percentile"] > 99).all()
    recon = healthy_reconstruction(stack, [healthy_volume(0), healthy_volume(1)])
    metrics, lesions = lesion_scores(
        stack, recon, components, resolve_scorers({"residual": {}}), detected_fraction=0.1
    )
    bright_ids = set(components.loc[bright, "component"])
    is_bright = lesions["component"].isin(bright_ids)
    assert lesions.loc[is_bright, "detected"].all()
    assert not lesions.loc[~is_bright, "detected"].any()
    assert lesions.loc[is_bright, "ap"].min() > 0.9 > 0.5 > lesions.loc[~is_bright, "ap"].max()
    assert metrics.loc[0, "n_lesion_slices"] == 6


def brute_force(images, labels, maps_by_slice, *, min_size, margin, fraction):
    """The lesion table from scratch: 3-D ndimage.label per volume, sklearn AP over each box."""
    scorers_maps = maps_by_slice  # {(volume, slice): map}
    all_pos = [m[labels[v][:, :, k] > 0] for (v, k), m in scorers_maps.items()]
    all_lab = np.concatenate([labels[v][:, :, k].ravel() > 0 for (v, k) in scorers_maps])
    all_map = np.concatenate([m.ravel() for m in scorers_maps.values()])
    del all_pos
    # best Dice threshold over 100 thresholds spanning the scores, ties to the lowest
    thresholds = np.linspace(all_map.min(), all_map.max(), 100)
    dice = [
        2 * np.sum(all_lab & (all_map >= t)) / (np.sum(all_map >= t) + all_lab.sum())
        for t in thresholds
    ]
    t = thresholds[int(np.argmax(dice))]
    rows = []
    for v, (img, lab) in enumerate(zip(images, labels, strict=True)):
        comp, n = ndimage.label(lab > 0)
        scored = sorted(k for (vv, k) in scorers_maps if vv == v)
        score_vol = np.full(img.shape, np.nan)
        for k in scored:
            score_vol[:, :, k] = scorers_maps[(v, k)]
        for c in range(1, n + 1):
            vox = comp == c
            if vox.sum() < min_size:
                continue
            on = vox & ~np.isnan(score_vol)
            if not on.any():
                continue
            idx = np.argwhere(on)
            lo, hi = idx.min(0) - margin, idx.max(0) + margin
            box = np.zeros(img.shape, bool)
            box[max(lo[0], 0) : hi[0] + 1, max(lo[1], 0) : hi[1] + 1, max(lo[2], 0) : hi[2] + 1] = (
                True
            )
            box &= ~np.isnan(score_vol)
            pos = box & vox
            neg = box & (img > 0) & (lab == 0)
            y = np.r_[np.ones(pos.sum()), np.zeros(neg.sum())]
            s = np.r_[score_vol[pos], score_vol[neg]]
            rows.append(
                {
                    "size": int(vox.sum()),
                    "mean_intensity": float(img[vox].mean()),
                    "detected": np.mean(score_vol[on] >= t) >= fraction,
                    "ap": average_precision_score(y, s),
                }
            )
    return pd.DataFrame(rows)


def test_lesion_table_equals_brute_force(tmp_path):
    rng = np.random.default_rng(3)
    images, labels, paths, label_paths = [], [], [], []
    for i in range(2):
        vol = healthy_volume(10 + i)
        # random blobs: thresholded smooth noise inside the slab, some touching, some tiny
        noise = ndimage.gaussian_filter(rng.standard_normal(vol.shape), 1.2)
        lab = ((noise > np.quantile(noise, 0.97)) & (vol > 0)).astype(np.uint8)
        vol[lab > 0] = rng.uniform(0.1, 0.9)
        images.append(vol)
        labels.append(lab)
        paths.append(save(tmp_path / f"v{i}.nii.gz", vol))
        label_paths.append(save(tmp_path / f"v{i}_label.nii.gz", lab))
    train = np.moveaxis(healthy_volume(10), 2, 0)[8:16]
    stack, components, _ = prepare(paths, label_paths, train, min_size=3, max_slices=5)
    noise = rng.random(stack.images.shape).astype(np.float32)
    recon = stack.images - noise - 0.3 * stack.lesion * rng.random(stack.images.shape)
    spec = resolve_scorers({"residual": {}})
    metrics, table = lesion_scores(stack, recon.astype(np.float32), components, spec, margin=2)
    maps = score_maps("residual", stack.images, recon.astype(np.float32))
    lesion_slices = np.flatnonzero(stack.has_lesion)
    per_image = [
        average_precision_score(stack.lesion[i].ravel(), maps[i].ravel()) for i in lesion_slices
    ]
    assert metrics.loc[0, "per_image_ap"] == pytest.approx(np.mean(per_image), abs=1e-12)
    pooled = average_precision_score(stack.lesion.ravel(), maps.ravel())
    assert metrics.loc[0, "pooled_ap"] == pytest.approx(pooled, abs=1e-12)
    assert metrics.loc[0, "n_healthy_slices"] > 0
    expected = brute_force(
        images,
        labels,
        {
            (int(v), int(k)): maps[j]
            for j, (v, k) in enumerate(zip(stack.volume, stack.slice, strict=True))
        },
        min_size=3,
        margin=2,
        fraction=0.1,
    )
    assert len(table) == len(expected) > 3
    got = table.sort_values("component").reset_index(drop=True)
    np.testing.assert_array_equal(got["size"], expected["size"])
    np.testing.assert_allclose(got["ap"], expected["ap"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got["detected"], expected["detected"])


def test_contrast_guard_rail_names_both_sets(labelled_folder):
    images, labels, train = labelled_folder
    with pytest.raises(ContrastMismatchError, match=r"'hand'.*'healthy'.*allow_mismatch"):
        prepare(images, labels, np.clip(train * 2.0, 0, 1))
    _, _, summary = prepare(images, labels, np.clip(train * 2.0, 0, 1), allow_mismatch=True)
    assert summary["wasserstein"] > 0.05


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda lab, img: (lab[:-1], None), "has shape"),
        (lambda lab, img: (lab, np.diag([2.0, 1, 1, 1])), "different affines"),
        (lambda lab, img: (np.zeros_like(lab), None), "no lesion voxel"),
        (lambda lab, img: (np.where(lab > 0, 3, 0).astype(np.uint8), None), r"values \[3\]"),
        (lambda lab, img: (lab * 0.5, None), "non-integer"),
    ],
)
def test_label_errors_name_the_file(labelled_folder, tmp_path, corrupt, message):
    images, labels, _ = labelled_folder
    lab = np.asarray(nib.load(str(labels[0])).dataobj)
    bad, affine = corrupt(lab, None)
    path = save(tmp_path / "bad_seg.nii.gz", bad, affine)
    with pytest.raises(VolumeError, match=message) as info:
        load_labelled_volume(images[0], path, anomaly_values=[1, 2])
    assert "bad_seg.nii.gz" in str(info.value)


def test_missing_label_names_the_file(labelled_folder, tmp_path):
    images, _, _ = labelled_folder
    with pytest.raises(VolumeError, match="missing_seg.nii.gz.*does not exist"):
        load_labelled_volume(images[0], tmp_path / "missing_seg.nii.gz")


def test_painting_is_deterministic_and_spans_the_histogram(tmp_path):
    vols = [healthy_volume(20 + i, 32) for i in range(4)]
    out = (
        [tmp_path / f"a{i}.nii.gz" for i in range(4)],
        [tmp_path / f"a{i}_l.nii.gz" for i in range(4)],
    )
    write_lesion_set(vols, *out, seed=5, n_lesions=4)
    again = paint_lesions(
        vols[1],
        np.random.default_rng([5, 1]),
        n_lesions=4,
        first_kind=1,
        region=np.broadcast_to(np.arange(32) < 12, (32, 32, 32)),
    )
    np.testing.assert_array_equal(np.asarray(nib.load(str(out[1][1])).dataobj), again[1])
    means = []
    for img_path, lab_path, vol in zip(*out, vols, strict=True):
        img = np.asarray(nib.load(str(img_path)).dataobj)
        lab = np.asarray(nib.load(str(lab_path)).dataobj)
        assert ((lab > 0) <= (vol > 0)).all() and (lab > 0).any()
        assert not (lab[:, :, 12:] > 0).any()  # the upper half of the slab stays lesion-free
        assert ((img > 0) == (vol > 0)).all()
        comp, n = ndimage.label(lab > 0)
        means += ndimage.mean(img, comp, range(1, n + 1)).tolist()
    healthy = np.concatenate([v[v > 0] for v in vols])
    lo, hi = np.quantile(healthy, [0.01, 0.99])
    means = np.array(means)
    assert ((means > lo) & (means < hi)).any() and ((means < lo) | (means > hi)).any()
    assert len(LESION_KINDS) == 4


def test_by_intensity_bins_and_exp1_prediction():
    grid = pd.DataFrame(
        {
            "intensity": [0.0, 1.0, 0.0, 1.0],
            "sigma": [0.0, 0.0, 1.0, 1.0],
            "ap": [0.0, 1.0, 0.2, 0.6],
        }
    )
    np.testing.assert_allclose(exp1_prediction(np.array([0.5]), grid, 0.9), [0.4])
    lesions = pd.DataFrame(
        {
            "model": "m",
            "score": "s",
            "percentile": [5.0, 55.0, 59.0, 100.0],
            "mean_intensity": [0.0, 0.5, 0.5, 1.0],
            "detected": [False, True, False, True],
            "ap": [0.1, 0.5, 0.3, 0.9],
        }
    )
    table = by_intensity_table(lesions, {"s": grid}, {"m": 0.0}, bins=10)
    assert table["n_lesions"].tolist() == [1, 2, 1]
    assert table["detection_rate"].tolist() == [0.0, 0.5, 1.0]
    assert table["bin_left"].tolist() == [0.0, 50.0, 90.0]
    np.testing.assert_allclose(table["predicted_ap"], [0.0, 0.5, 1.0])


def test_lesion_sets_must_be_embedded_or_labelled_datasets():
    from residual_pitfalls.config import ConfigError, _check_lesion_sets

    datasets = {"mood": {"source": "nifti"}, "brats": {"labels": {"replace": ["a", "b"]}}}

    def check_lesion_sets(sets, datasets):  # the section of the one start-up check
        _check_lesion_sets({"lesions": {"sets": sets}, "datasets": datasets})

    check_lesion_sets(["embedded", "brats"], datasets)
    with pytest.raises(ConfigError, match=r"'lesions.sets'.*'mood'.*no 'labels'"):
        check_lesion_sets(["mood"], datasets)
    with pytest.raises(ConfigError, match=r"'lesions.sets'.*'wmh' is neither"):
        check_lesion_sets(["wmh"], datasets)
