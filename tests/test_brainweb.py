"""BrainWeb models: download against a 127.0.0.1 server serving small fixture files in BrainWeb's
raw format (gzipped unsigned bytes, x fastest), then T2 rendering. Never contacts the real server."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
from test_download import serve  # noqa: F401  (the 127.0.0.1 server fixture)

from residual_pitfalls.data.brainweb import (
    BrainWebError,
    fetch_models,
    model_path,
    read_model,
    t2_volume,
)
from residual_pitfalls.data.download import DownloadError

SHAPE = (40, 48, 40)  # (z, y, x) as stored; the real models are 362 x 434 x 362


def fixture_model(subject: int) -> bytes:
    """A small crisp model: a WM ellipsoid in a GM shell in a CSF shell, ventricles, skull."""
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in SHAPE), indexing="ij")
    r = np.sqrt(x**2 + (y / 1.15) ** 2 + z**2) * (1 + 0.02 * subject % 5)
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[r < 0.95] = 7  # skull
    labels[r < 0.85] = 1  # CSF
    labels[r < 0.8] = 2  # GM
    labels[r < 0.65] = 3  # WM
    labels[(np.abs(x) < 0.15) & (np.abs(y) < 0.3) & (np.abs(z) < 0.2)] = 1  # ventricles
    return gzip.compress(labels.tobytes())


def routes(subjects, kind="ok"):
    return {f"/m/{s:02d}": (kind, fixture_model(s)) for s in subjects}


def test_download_read_and_render_end_to_end(serve, tmp_path):  # noqa: F811
    base = serve(routes([4, 5]))
    sha = {4: hashlib.sha256(fixture_model(4)).hexdigest()}
    paths = fetch_models([4, 5], tmp_path, url=base + "/m/{subject:02d}", sha256=sha,
                         shape=SHAPE, progress=False)  # fmt: skip
    assert paths == [model_path(tmp_path, 4), model_path(tmp_path, 5)]
    labels = read_model(paths[0], SHAPE)
    assert labels.shape == SHAPE[::-1]  # (x, y, z)
    assert set(np.unique(labels)) == {0, 1, 2, 3, 7}
    volume = t2_volume(labels, seed=0, subject=4, size=32, fov_mm=24.0)
    assert volume.shape == (32, 32, 32) and volume.dtype == np.float32
    brain = volume > 0
    assert 0.2 < brain.mean() < 0.8
    assert volume[~brain].max() == 0.0  # background exactly 0; the skull is not brain
    # T2: the CSF of the ventricles (centre) is brighter than the WM around them
    assert volume[14:18, 14:18, 21:23].mean() < 0.6 * volume[15:17, 15:17, 15:17].mean()
    np.testing.assert_array_equal(volume, t2_volume(labels, seed=0, subject=4, size=32,
                                                    fov_mm=24.0))  # fmt: skip
    # resumable: a second call fetches nothing
    before = len(serve.last.requests)
    fetch_models([4, 5], tmp_path, url=base + "/m/{subject:02d}", sha256=sha, shape=SHAPE,
                 progress=False)  # fmt: skip
    assert len(serve.last.requests) == before + 1  # only subject 5 (no checksum) is fetched again


def test_unknown_subject_id_is_a_clear_error(tmp_path):
    with pytest.raises(BrainWebError, match="unknown BrainWeb subject id 7.*04, 05"):
        fetch_models([4, 7], tmp_path, url="http://127.0.0.1:9/{subject}", progress=False)


def test_wrong_checksum_is_an_error_and_nothing_is_kept(serve, tmp_path):  # noqa: F811
    base = serve(routes([4]))
    with pytest.raises(DownloadError, match="subject 04.*checksum mismatch"):
        fetch_models([4], tmp_path, url=base + "/m/{subject:02d}", sha256={4: "0" * 64},
                     shape=SHAPE, progress=False)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_names_the_subject(serve, tmp_path):  # noqa: F811
    base = serve({"/m/04": ("ok", fixture_model(4)[:-200])})  # the server sends a cut file
    with pytest.raises(BrainWebError, match=r"subject 04 .*subject04_crisp\.rawb\.gz.*truncated"):
        fetch_models([4], tmp_path, url=base + "/m/{subject:02d}", shape=SHAPE, progress=False)
    assert list(tmp_path.iterdir()) == []
    base = serve(routes([4], kind="short"))  # the connection drops early
    with pytest.raises(DownloadError, match="subject 04.*incomplete"):
        fetch_models([4], tmp_path, url=base + "/m/{subject:02d}", shape=SHAPE, progress=False)


def test_a_model_of_the_wrong_size_is_an_error(tmp_path):
    path = tmp_path / "subject04_crisp.rawb.gz"
    path.write_bytes(gzip.compress(bytes(100)))
    with pytest.raises(BrainWebError, match="100 bytes after decompression, expected"):
        read_model(path, SHAPE)
