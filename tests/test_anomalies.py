"""Tests for residual_pitfalls.anomalies (artificial anomalies, SPEC section 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import brain_slices
from skimage.draw import disk as sk_disk

from residual_pitfalls.anomalies import (
    ANOMALIES,
    anomaly_centres,
    disk_anomaly,
    disk_label,
    image_rng,
    make_anomaly,
    pixel_shuffle,
    sample_centre,
    sink_deformation,
    source_deformation,
)

# --------------------------------------------------------------------------------------------
# fixtures / helpers


def full_brain(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(h, w) float32 foreground everywhere, values in [0.1, 0.9)."""
    return (0.1 + 0.8 * rng.random((h, w))).astype(np.float32)


def position_coded(h: int, w: int) -> np.ndarray:
    """(h, w) float32 in (0, 1): every pixel a distinct value increasing in row-major order."""
    return ((np.arange(h * w, dtype=np.float64) + 1) / (h * w + 1)).astype(np.float32).reshape(h, w)


def decode(coded: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source (rows, cols) of `values` taken from the position-coded image `coded`."""
    flat = coded.ravel()
    idx = np.searchsorted(flat, values)
    assert np.array_equal(flat[idx], values), "value not taken from the coded image"
    return np.unravel_index(idx, coded.shape)


def sk_clipped_label(image: np.ndarray, centre: tuple[int, int], radius: float) -> np.ndarray:
    """Reference: skimage.draw.disk (no shape), indices clipped, intersected with image > 0."""
    rr, cc = sk_disk(centre, radius)
    rr = rr.clip(0, image.shape[0] - 1)
    cc = cc.clip(0, image.shape[1] - 1)
    lab = np.zeros(image.shape, dtype=bool)
    lab[rr, cc] = True
    return lab & (image > 0)


def reference_deformation(
    image: np.ndarray, centre: tuple[int, int], radius: float, kind: str
) -> np.ndarray:
    """Per-pixel loop following the SPEC's description (with rows clipped to H, cols to W)."""
    h, w = image.shape
    out = image.astype(np.float32).copy()
    r0, c0 = centre
    label = sk_clipped_label(image, centre, radius)
    for x, y in zip(*np.nonzero(label), strict=True):
        d = np.array([x - r0, y - c0])
        s = (np.linalg.norm(d, ord=2) / radius) ** 2
        if kind == "source":
            vx, vy = r0 + s * (x - r0), c0 + s * (y - c0)
        else:
            vx, vy = x + (1 - s) * (x - r0), y + (1 - s) * (y - c0)
        # Python's round() on floats is round-half-to-even, like np.round.
        xs = max(min(round(float(vx)), h - 1), 0)
        ys = max(min(round(float(vy)), w - 1), 0)
        if image[x, y] > 0:
            out[x, y] = image[xs, ys]
    return out


# --------------------------------------------------------------------------------------------
# disk label


def test_disk_has_1245_pixels_at_radius_20():
    img = full_brain(128, 128, np.random.default_rng(0))
    label = disk_label(img, (64, 64), 20)
    assert label.dtype == bool and label.shape == img.shape
    assert int(label.sum()) == 1245
    # every pixel strictly inside the circle, and nothing else
    rows, cols = np.mgrid[0:128, 0:128]
    assert np.array_equal(label, (rows - 64) ** 2 + (cols - 64) ** 2 < 400)


@pytest.mark.parametrize(
    ("centre", "radius"),
    [
        ((0, 0), 20),
        ((3, 70), 20),
        ((95, 5), 20),
        ((95, 119), 20),
        ((50, 60), 7.5),
        ((1, 1), 2.3),
        ((48, 60), 60),  # disk larger than the image: everything clipped
    ],
)
def test_disk_label_matches_skimage_with_clipping_at_border(centre, radius):
    img = full_brain(96, 120, np.random.default_rng(1))
    got = disk_label(img, centre, radius)
    assert np.array_equal(got, sk_clipped_label(img, centre, radius))


def test_disk_label_clipping_equals_cropping_for_centres_inside():
    # Clipping moves an out-of-image disk pixel onto the border, i.e. closer to an inside centre,
    # so it lands on a pixel already in the disk: for valid centres clip == crop.
    img = full_brain(64, 64, np.random.default_rng(2))
    rows, cols = np.mgrid[0:64, 0:64]
    for centre in [(0, 0), (2, 30), (63, 1), (40, 62)]:
        cropped = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < 400
        assert np.array_equal(disk_label(img, centre, 20), cropped)


def test_disk_label_is_restricted_to_brain_at_the_edge():
    img = brain_slices(1, 96, seed=3)[0]
    fg = img > 0
    # a centre on the brain edge: first foreground pixel of the middle row
    c = int(np.nonzero(fg[48])[0][0])
    label = disk_label(img, (48, c), 20)
    assert not np.any(label & ~fg)
    assert np.array_equal(label, sk_clipped_label(img, (48, c), 20))
    assert 0 < label.sum() < 1245


# --------------------------------------------------------------------------------------------
# disk anomaly


def test_disk_anomaly_values_dtype_and_background():
    img = brain_slices(1, 80, seed=4, width=90)[0]
    fg = img > 0
    c = int(np.nonzero(fg[40])[0][0])
    out, label = disk_anomaly(img, (40, c), 20, 0.73)
    assert out.dtype == np.float32 and out.shape == img.shape
    assert np.all(out[label] == np.float32(0.73))
    assert np.array_equal(out[~label], img[~label])
    assert np.all(out[~fg] == 0)


def test_disk_anomaly_accepts_float64_and_returns_float32():
    img = full_brain(40, 40, np.random.default_rng(5)).astype(np.float64)
    out, label = disk_anomaly(img, (20, 20), 5, 0.0)
    assert out.dtype == np.float32
    assert np.all(out[label] == 0) and label.sum() > 0


# --------------------------------------------------------------------------------------------
# deformations


CENTRES = [(48, 48), (2, 40), (93, 3), (60, 94), (0, 0), (95, 95), (30, 10)]


@pytest.mark.parametrize("kind", ["source", "sink"])
@pytest.mark.parametrize("shape", [(96, 96), (96, 128)])
def test_vectorised_deformation_equals_reference_loop(kind, shape):
    fn = source_deformation if kind == "source" else sink_deformation
    rng = np.random.default_rng(6)
    for trial in range(2):
        img = (
            brain_slices(1, shape[0], seed=6, width=shape[1])[0]
            if trial == 0
            else full_brain(*shape, rng)
        )
        fg_rows, fg_cols = np.nonzero(img > 0)
        centres = list(CENTRES)
        # random foreground centres, and a few near the right border of a wide image
        picks = rng.integers(fg_rows.size, size=4)
        centres += [(int(fg_rows[k]), int(fg_cols[k])) for k in picks]
        centres += [(shape[0] // 2, shape[1] - 2), (5, shape[1] - 1)]
        for centre in centres:
            out, label = fn(img, centre, 20)
            ref = reference_deformation(img, centre, 20, kind)
            assert np.array_equal(out, ref), (kind, shape, centre)
            assert np.array_equal(label, sk_clipped_label(img, centre, 20))


def test_deformations_on_non_square_use_correct_clip_axes():
    # A sink near the right edge of a wide image samples past the last column: columns are clipped
    # to W - 1 (not H - 1) and rows to H - 1.
    img = position_coded(40, 100)
    out, label = sink_deformation(img, (20, 90), 20)
    src_r, src_c = decode(img, out[label])
    assert src_c.max() == 99
    assert src_r.min() == 0 and src_r.max() == 39
    tall = position_coded(100, 40)
    out, label = sink_deformation(tall, (90, 20), 20)
    src_r, src_c = decode(tall, out[label])
    assert src_r.max() == 99 and src_c.max() == 39


def test_round_half_to_even():
    # I - C = (10, 0), R = 20: s = 1/4 and the source samples row 50 + 2.5 -> 52 (half-to-even).
    img = position_coded(100, 100)
    out, _ = source_deformation(img, (50, 50), 20)
    r, c = decode(img, out[60:61, 50])
    assert (int(r[0]), int(c[0])) == (52, 50)
    # centre (51, 50): 51 + 2.5 = 53.5 -> 54
    out, _ = source_deformation(img, (51, 50), 20)
    r, c = decode(img, out[61:62, 50])
    assert (int(r[0]), int(c[0])) == (54, 50)


@pytest.mark.parametrize("fn", [source_deformation, sink_deformation])
def test_centre_pixel_unchanged(fn):
    img = brain_slices(1, 96, seed=7)[0]
    for centre in [(48, 48), (20, 50), (70, 30)]:
        out, label = fn(img, centre, 20)
        assert label[centre]
        assert out[centre] == img[centre]
        assert not np.array_equal(out, img)


def test_sink_samples_up_to_1p089_radius_and_source_samples_inward():
    radius = 20
    img = position_coded(128, 128)
    centre = (64, 64)
    out, label = sink_deformation(img, centre, radius)
    rows, cols = np.nonzero(label)
    sr, sc = decode(img, out[label])
    d_src = np.hypot(sr - centre[0], sc - centre[1])
    peak = radius * (2 * math.sqrt(2 / 3) - (2 / 3) * math.sqrt(2 / 3))  # d(2 - d^2/R^2) at max
    assert peak == pytest.approx(1.0887 * radius, rel=1e-4)
    # rounding moves the sample by at most sqrt(2)/2
    assert d_src.max() <= peak + math.sqrt(0.5)
    assert d_src.max() >= peak - math.sqrt(0.5)
    assert np.any(d_src >= radius)  # pulls in content from outside the disk
    d_pix = np.hypot(rows - centre[0], cols - centre[1])
    assert np.all(d_src >= d_pix - math.sqrt(0.5))

    out, label = source_deformation(img, centre, radius)
    rows, cols = np.nonzero(label)
    sr, sc = decode(img, out[label])
    d_src = np.hypot(sr - centre[0], sc - centre[1])
    d_pix = np.hypot(rows - centre[0], cols - centre[1])
    assert np.all(d_src <= d_pix + math.sqrt(0.5))
    assert np.allclose(d_src, d_pix**3 / radius**2, atol=math.sqrt(0.5))


def test_sink_pulls_background_zeros_near_brain_edge():
    img = brain_slices(1, 96, seed=8)[0]
    c = int(np.nonzero(img[48] > 0)[0][0]) + 3
    out, label = sink_deformation(img, (48, c), 20)
    assert np.any(out[label] == 0)
    assert np.all(out[~label] == img[~label])


# --------------------------------------------------------------------------------------------
# pixel shuffle


def test_pixel_shuffle_is_permutation_and_reproducible():
    img = brain_slices(1, 96, seed=9)[0]
    out1, label = pixel_shuffle(img, (48, 48), 20, np.random.default_rng(11))
    out2, label2 = pixel_shuffle(img, (48, 48), 20, np.random.default_rng(11))
    out3, _ = pixel_shuffle(img, (48, 48), 20, np.random.default_rng(12))
    assert out1.dtype == np.float32
    assert np.array_equal(label, label2)
    assert np.array_equal(np.sort(out1[label]), np.sort(img[label]))
    assert np.array_equal(out1[~label], img[~label])
    assert np.array_equal(out1, out2)
    assert not np.array_equal(out1, out3)
    assert np.mean(out1[label] != img[label]) > 0.9


def test_pixel_shuffle_uses_rng_permutation_in_row_major_order():
    img = brain_slices(1, 64, seed=10)[0]
    out, label = pixel_shuffle(img, (30, 33), 9, np.random.default_rng(5))
    perm = np.random.default_rng(5).permutation(int(label.sum()))
    assert np.array_equal(out[label], img[label][perm])


# --------------------------------------------------------------------------------------------
# centres


def test_sample_centre_single_draw_in_row_major_foreground():
    img = brain_slices(1, 64, seed=13, width=80)[0]
    rows, cols = np.nonzero(img > 0)
    rng = np.random.default_rng(21)
    centre = sample_centre(img, rng)
    twin = np.random.default_rng(21)
    k = twin.integers(rows.size)
    assert centre == (int(rows[k]), int(cols[k]))
    assert all(type(v) is int for v in centre)
    # exactly one draw: both generators are now in the same state
    assert rng.random() == twin.random()


def test_sample_centre_is_uniform_over_foreground():
    img = np.zeros((5, 5), dtype=np.float32)
    fg = [(0, 1), (2, 2), (3, 0), (4, 4)]
    for p in fg:
        img[p] = 0.5
    rng = np.random.default_rng(14)
    counts = {p: 0 for p in fg}
    for _ in range(4000):
        counts[sample_centre(img, rng)] += 1
    assert sum(counts.values()) == 4000
    # 1000 expected each, sd ~27: 6 sd margin
    assert all(840 < n < 1160 for n in counts.values()), counts


def test_anomaly_centres_deterministic_inside_and_independent_of_n():
    imgs = brain_slices(6, 64, seed=15)
    c6 = anomaly_centres(imgs, seed=0)
    assert c6.shape == (6, 2) and c6.dtype == np.int64
    assert np.array_equal(c6, anomaly_centres(imgs, seed=0))
    assert np.array_equal(anomaly_centres(imgs[:3], seed=0), c6[:3])
    for i, (r, c) in enumerate(c6):
        assert imgs[i, r, c] > 0
        assert (r, c) == sample_centre(imgs[i], image_rng(0, i))
    assert not np.array_equal(anomaly_centres(imgs, seed=1), c6)


def test_image_rng_is_keyed_on_seed_and_index():
    a = image_rng(3, 7).random(4)
    assert np.array_equal(a, np.random.default_rng([3, 7]).random(4))
    assert not np.array_equal(a, image_rng(3, 8).random(4))
    assert not np.array_equal(a, image_rng(7, 3).random(4))


# --------------------------------------------------------------------------------------------
# registry


def test_registry_matches_direct_calls():
    img = brain_slices(1, 80, seed=16)[0]
    centre = (40, 40)
    assert set(ANOMALIES) == {"disk", "sink", "source", "pixel_shuffle"}
    pairs = [
        (
            make_anomaly("disk", img, centre, 20, None, intensity=0.2),
            disk_anomaly(img, centre, 20, 0.2),
        ),
        (make_anomaly("sink", img, centre, 20, None), sink_deformation(img, centre, 20)),
        (make_anomaly("source", img, centre, 20, None), source_deformation(img, centre, 20)),
        (
            make_anomaly("pixel_shuffle", img, centre, 20, np.random.default_rng(1)),
            pixel_shuffle(img, centre, 20, np.random.default_rng(1)),
        ),
    ]
    for (a_out, a_lab), (b_out, b_lab) in pairs:
        assert np.array_equal(a_out, b_out) and np.array_equal(a_lab, b_lab)


def test_make_anomaly_errors_name_the_problem():
    img = full_brain(40, 40, np.random.default_rng(17))
    with pytest.raises(ValueError, match="blob.*disk.*pixel_shuffle.*sink.*source"):
        make_anomaly("blob", img, (20, 20), 5, None)
    with pytest.raises(ValueError, match="missing.*intensity"):
        make_anomaly("disk", img, (20, 20), 5, None)
    with pytest.raises(ValueError, match="unknown.*strength"):
        make_anomaly("disk", img, (20, 20), 5, None, intensity=0.5, strength=2)
    with pytest.raises(ValueError, match="unknown.*intensity"):
        make_anomaly("sink", img, (20, 20), 5, None, intensity=0.5)


# --------------------------------------------------------------------------------------------
# inputs untouched, validation


def test_inputs_are_not_mutated_and_outputs_are_new_arrays():
    img = brain_slices(1, 64, seed=18)[0]
    before = img.copy()
    centre = (32, 32)
    outs = [
        disk_anomaly(img, centre, 20, 1.0),
        source_deformation(img, centre, 20),
        sink_deformation(img, centre, 20),
        pixel_shuffle(img, centre, 20, np.random.default_rng(0)),
    ]
    assert np.array_equal(img, before)
    for out, label in outs:
        assert not np.shares_memory(out, img) and not np.shares_memory(label, img)
    disk_label(img, centre, 20)
    anomaly_centres(img[None], 0)
    sample_centre(img, np.random.default_rng(0))
    assert np.array_equal(img, before)


def test_empty_brain_mask_raises():
    empty = np.zeros((16, 16), dtype=np.float32)
    with pytest.raises(ValueError, match="empty brain mask"):
        sample_centre(empty, np.random.default_rng(0))
    imgs = np.stack([full_brain(16, 16, np.random.default_rng(0)), empty])
    with pytest.raises(ValueError, match=r"images\[1\].*empty brain mask"):
        anomaly_centres(imgs, 0)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((4, 4, 4), dtype=np.float32), "2-D"),
        (np.zeros((8, 8), dtype=np.uint8), "floating dtype"),
        (np.full((8, 8), np.nan, dtype=np.float32), "NaN"),
        (np.full((8, 8), 1.5, dtype=np.float32), r"\[0, 1\]"),
        (np.full((8, 8), -0.1, dtype=np.float32), r"\[0, 1\]"),
        ([[0.5, 0.5], [0.5, 0.5]], "numpy array"),
    ],
)
def test_bad_images_raise(image, match):
    with pytest.raises(ValueError, match=match):
        disk_anomaly(image, (1, 1), 2, 0.5)


def test_bad_arguments_raise():
    img = full_brain(32, 48, np.random.default_rng(19))
    for radius in (0, -3, float("nan"), float("inf"), "20"):
        with pytest.raises(ValueError, match="radius"):
            disk_label(img, (10, 10), radius)
    for centre in [(32, 0), (0, 48), (-1, 5), (1.5, 2), (1, 2, 3), 7]:
        with pytest.raises(ValueError, match="centre"):
            source_deformation(img, centre, 5)
    for intensity in (-0.01, 1.01, float("nan"), None):
        with pytest.raises(ValueError, match="intensity"):
            disk_anomaly(img, (10, 10), 5, intensity)
    with pytest.raises(ValueError, match="rng"):
        pixel_shuffle(img, (10, 10), 5, 42)
    with pytest.raises(ValueError, match="rng"):
        sample_centre(img, None)
    with pytest.raises(ValueError, match="seed"):
        anomaly_centres(img[None], -1)
    with pytest.raises(ValueError, match="3-D"):
        anomaly_centres(img, 0)
