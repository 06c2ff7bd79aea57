"""The BrainWeb source through the real workflow, against an HTTP server on 127.0.0.1 serving
fixture models of BrainWeb's exact size and raw format (gzipped unsigned bytes, 362 x 434 x 362)."""

import gzip
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import TINY, run_snakemake

from residual_pitfalls.data.brainweb import SHAPE

pytestmark = pytest.mark.workflow


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def full_size_model(subject: int) -> bytes:
    """An ellipsoidal brain (WM core, GM, CSF shell and ventricles, a skull) at 1 mm, repeated 2x
    per axis into BrainWeb's 0.5 mm grid (z, y, x)."""
    half = tuple(n // 2 for n in SHAPE)
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n, dtype=np.float32) for n in half), indexing="ij")
    r = np.sqrt(x**2 + (y / 1.1) ** 2 + z**2) * (1.4 + 0.01 * subject)
    labels = np.zeros(half, dtype=np.uint8)
    for radius, label in ((0.95, 7), (0.85, 1), (0.8, 2), (0.6, 3)):
        labels[r < radius] = label
    labels[(np.abs(x) < 0.08) & (np.abs(y) < 0.2) & (np.abs(z) < 0.1)] = 1
    full = labels.repeat(2, 0).repeat(2, 1).repeat(2, 2)
    assert full.shape == SHAPE
    return gzip.compress(full.tobytes(), compresslevel=1)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_brainweb_source_end_to_end(server, tmp_path):
    root, base = server
    subjects = [4, 5, 6, 18, 20]
    for s in subjects:
        (root / f"subject{s:02d}.gz").write_bytes(full_size_model(s))
    overlay = tmp_path / "brainweb.yaml"
    overlay.write_text(
        "dataset: brainweb\n"
        f"datasets: {{brainweb: {{source: brainweb, subjects: {subjects}, seed: 0, augment: 1, "
        f"path: {tmp_path / 'models'}, url: '{base}/subject{{subject:02d}}.gz'}}}}\n"
    )
    work = tmp_path / "run"
    done = run_snakemake(
        work, "results/data/test.npy", "results/data/train.npy", "--configfile", str(TINY),
        str(overlay), "--cores", "1", timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    test = np.load(work / "results/data/test.npy")
    # the last 40 % of the 5 subjects, each with its copy (augment: 1), slice 32 of each
    assert test.shape == (4, 64, 64)
    assert test.min() == 0.0 and 0.1 < (test > 0).mean() < 0.9
    sources = {
        split: [Path(p).name for p in pd.read_csv(work / f"results/data/{split}.csv")["source"]]
        for split in ("train", "test")
    }
    assert sources["test"] == ["sub-18.nii.gz", "sub-18_aug1.nii.gz", "sub-20.nii.gz",
                               "sub-20_aug1.nii.gz"]  # fmt: skip
    assert set(sources["train"]) == {"sub-05.nii.gz", "sub-05_aug1.nii.gz", "sub-06.nii.gz",
                                     "sub-06_aug1.nii.gz"}  # fmt: skip
    # a copy is the same anatomy, deformed and re-rendered: not its source's slice
    real, copy = (test[i] > 0 for i in (0, 1))
    assert 0.8 < 2 * (real & copy).sum() / (real.sum() + copy.sum()) < 1.0
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        f"subject{s:02d}_crisp.rawb.gz" for s in subjects
    ]
    # an unknown subject id is refused with the key named, before anything runs
    overlay.write_text(overlay.read_text().replace("20]", "21]"))
    bad = run_snakemake(work, "results/data/test.npy", "--configfile", str(TINY), str(overlay))
    assert bad.returncode != 0
    assert "datasets.brainweb.subjects" in bad.stderr + bad.stdout
