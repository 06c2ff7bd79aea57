"""BrainWeb's ``augment: N``: random smooth deformations with contrast jitter, the copies' file
names, their split (always their source subject's) and the config key."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import REPO
from scipy import ndimage

from residual_pitfalls.config import ConfigError, check_all
from residual_pitfalls.data.augment import WarpSettings, random_warp
from residual_pitfalls.data.brainweb import SUBJECTS, subject_volumes, t2_volume, write_volumes
from residual_pitfalls.data.split import augmentation_source, split_volumes
from residual_pitfalls.layout import brainweb_volumes, split_of

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
FOV = 120.0  # mm: the fixture brain is ~95 x 115 x 90 mm


def folded_brain(shape=(200, 240, 200)) -> np.ndarray:
    """An (x, y, z) label volume at 0.5 mm: a folded GM ribbon over WM, CSF shell and ventricles."""
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, n, dtype=np.float32) for n in shape), indexing="ij")
    r = np.sqrt(x**2 + (y / 1.1) ** 2 + (z / 0.95) ** 2)
    folds = 0.06 * np.sin(9 * np.arctan2(y, x)) * np.cos(7 * z)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[r < 0.95] = 7  # skull: not brain
    labels[r < 0.88] = 1
    labels[r < 0.84 + folds] = 2
    labels[r < 0.62 + folds] = 3
    labels[(np.abs(x) < 0.1) & (np.abs(y) < 0.3) & (np.abs(z) < 0.15)] = 1  # ventricles
    return labels


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return folded_brain()


@pytest.fixture(scope="module")
def volumes(labels) -> list[np.ndarray]:
    return subject_volumes(labels, seed=3, subject=4, size=40, copies=2, fov_mm=FOV)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


def jacobian_determinants(warp, points: np.ndarray, h: float = 0.5) -> np.ndarray:
    columns = [(warp(points + h * e[:, None]) - warp(points - h * e[:, None])) / (2 * h)
               for e in np.eye(3)]  # fmt: skip
    return np.linalg.det(np.moveaxis(np.stack(columns, axis=-1), 0, 1))


def test_warp_is_deterministic_smooth_a_few_mm_and_never_folds():
    axis = np.linspace(-100, 100, 21)
    points = np.stack(np.meshgrid(axis, axis, axis, indexing="ij")).reshape(3, -1)
    for seed in range(4):
        warp = random_warp(np.random.default_rng(seed), 208.0)
        again = random_warp(np.random.default_rng(seed), 208.0)
        np.testing.assert_array_equal(warp(points), again(points))
        length = np.linalg.norm(warp.displacement(points), axis=0)
        assert 1.0 < np.median(length) < 5.0 and length.max() < 15.0  # mm: "a few mm"
        det = jacobian_determinants(warp, points)
        assert det.min() > 0.4 and det.max() < 2.0  # no folding, volume change bounded
    # evaluated point by point, the same field (no state, no dependence on the point set)
    np.testing.assert_allclose(warp(points[:, :7]), warp(points)[:, :7])
    # the pose part alone: rotation within 3 degrees, scale within 4 %
    still = random_warp(np.random.default_rng(0), 208.0, WarpSettings(amplitude_mm=0.0))
    assert np.abs(still.displacement(points)).max() == 0.0
    singular = np.linalg.svd(still.linear, compute_uv=False)
    assert np.all(np.abs(singular - 1) <= 0.04 + 1e-12)
    rotation = still.linear / singular[0]
    angle = np.degrees(np.arccos((np.trace(rotation) - 1) / 2))
    assert 0 < angle <= 3 * np.sqrt(3)


def test_copies_are_deterministic_and_background_is_exactly_0(labels, volumes):
    again = subject_volumes(labels, seed=3, subject=4, size=40, copies=1, fov_mm=FOV)
    np.testing.assert_array_equal(again[0], volumes[0])
    np.testing.assert_array_equal(again[1], volumes[1])  # copy 1 does not depend on the count
    np.testing.assert_array_equal(
        volumes[0], t2_volume(labels, seed=3, subject=4, size=40, fov_mm=FOV)
    )
    other_seed = subject_volumes(labels, seed=4, subject=4, size=40, copies=1, fov_mm=FOV)
    assert not np.array_equal(other_seed[1], volumes[1])
    # background: everything farther than 3 voxels from the source's brain is exactly 0
    brain = volumes[0] > 0
    far = ndimage.distance_transform_edt(~brain) > 3
    for volume in volumes:
        assert volume.dtype == np.float32 and volume.shape == (40, 40, 40)
        assert volume[far].max() == 0.0 and volume.min() == 0.0
        assert volume[volume > 0].min() > 0.01  # no faint halo: brain or exactly 0


def test_copies_differ_but_keep_the_tissue_layout(volumes):
    masks = [v > 0 for v in volumes]
    for k in (1, 2):
        overlap = dice(masks[0], masks[k])
        assert 0.85 < overlap < 0.995, overlap  # the same brain, moved and reshaped a little
        both = masks[0] & masks[k]
        # the intensities follow the anatomy (correlated) but are not the source's
        correlation = np.corrcoef(volumes[0][both], volumes[k][both])[0, 1]
        assert 0.5 < correlation < 0.98, correlation
    assert dice(masks[1], masks[2]) < 0.995
    assert np.abs(volumes[1] - volumes[2]).mean() > 0.01


def test_copy_names_list_each_subject_then_its_copies():
    assert brainweb_volumes([5, 4], 2) == [
        "results/data/brainweb/sub-04.nii.gz",
        "results/data/brainweb/sub-04_aug1.nii.gz",
        "results/data/brainweb/sub-04_aug2.nii.gz",
        "results/data/brainweb/sub-05.nii.gz",
        "results/data/brainweb/sub-05_aug1.nii.gz",
        "results/data/brainweb/sub-05_aug2.nii.gz",
    ]
    assert brainweb_volumes([5, 4]) == [
        "results/data/brainweb/sub-04.nii.gz",
        "results/data/brainweb/sub-05.nii.gz",
    ]
    assert augmentation_source(Path("a/sub-04_aug12.nii.gz")) == "a/sub-04.nii.gz"
    assert augmentation_source(Path("a_aug1/sub-04.nii.gz")) == "a_aug1/sub-04.nii.gz"
    with pytest.raises(ValueError, match="4 output paths for 2 BrainWeb subjects with augment 2"):
        write_volumes([Path("x")] * 4, [4, 5], models=Path("m"), url=None, sha256={}, seed=0,
                      size=8, augment=2, progress=False)  # fmt: skip


def _brainweb_config(subjects, augment=0):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["dataset"] = "brainweb"
    config["datasets"]["brainweb"] = {"source": "brainweb", "subjects": subjects, "seed": 0}
    if augment is not None:
        config["datasets"]["brainweb"]["augment"] = augment
    return config


@pytest.mark.parametrize("subjects", [list(SUBJECTS), list(SUBJECTS[:6]), list(SUBJECTS[:9])])
@pytest.mark.parametrize("augment", [1, 2, 3])
def test_copies_are_in_their_source_subjects_split(subjects, augment):
    """Failed before grouping: a sorted split of the files cut a subject's copies apart (6
    subjects x 3 files: train got a copy of a test subject, leaking its anatomy)."""
    config = _brainweb_config(subjects, augment)
    real = [f"results/data/brainweb/sub-{s:02d}.nii.gz" for s in sorted(subjects)]
    files = real + [f[: -len(".nii.gz")] + f"_aug{k}.nii.gz"
                    for f in real for k in range(1, augment + 1)]  # fmt: skip
    split = split_of(config, files)
    where = {p.as_posix(): part for part, paths in split.items() for p in paths}
    assert sorted(where) == sorted(files)
    for file in files:
        assert where[file] == where[augmentation_source(Path(file))], file
    # the real subjects' split is the one without augmentation
    alone = split_of(_brainweb_config(subjects), real)
    assert {k: [p.as_posix() for p in v if "_aug" not in p.name] for k, v in split.items()} == {
        k: [p.as_posix() for p in v] for k, v in alone.items()
    }
    assert all(len(v) % (1 + augment) == 0 for v in split.values())


def test_grouped_split_counts_subjects_in_its_error():
    files = [Path("sub-04.nii.gz"), *(Path(f"sub-04_aug{k}.nii.gz") for k in (1, 2, 3))]
    with pytest.raises(ValueError, match="1 subjects \\(each with its augmented copies\\) are too"):
        split_volumes(files, group=augmentation_source)
    assert [len(v) for v in split_volumes(files).values()] == [1, 1, 2]  # ungrouped: 4 volumes


def test_augment_key_defaults_to_0_and_is_checked():
    config = _brainweb_config([4, 5, 6, 18, 20], augment=None)
    split = check_all(config, SCHEMA)
    assert config["datasets"]["brainweb"]["augment"] == 0
    assert [p.name for p in split["test"]] == ["sub-18.nii.gz", "sub-20.nii.gz"]
    config = _brainweb_config([4, 5, 6, 18, 20], augment=2)
    assert len(check_all(config, SCHEMA)["test"]) == 6
    for bad, why in ((-1, "less than the minimum of 0"), (1.5, "not of type 'integer'"),
                     ("2", "not of type 'integer'"), (True, "not of type 'integer'")):  # fmt: skip
        config = _brainweb_config([4, 5, 6, 18, 20], augment=bad)
        with pytest.raises(ConfigError, match=f"'datasets.brainweb.augment'.*{why}"):
            check_all(copy.deepcopy(config), SCHEMA)
