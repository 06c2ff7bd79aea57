"""The MOOD download path through the real workflow, against an HTTP server on 127.0.0.1."""

import hashlib
import os
import subprocess
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from helpers import TINY, run_snakemake

TOKEN = "s3cret-test-token"

pytestmark = pytest.mark.workflow


class _TokenHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_error(403, "missing token")
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_TokenHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def mood_like_zip(path: Path, n: int = 6, size: int = 32) -> str:
    """brain_train/0000k.nii.gz volumes in [0, 1] with a zero background; returns the sha256."""
    rng = np.random.default_rng(0)
    grid = np.indices((size,) * 3) - size / 2
    brain = (grid**2).sum(axis=0) < (size / 2.5) ** 2
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(n):
            volume = np.where(brain, rng.uniform(0.2, 0.8, brain.shape), 0).astype(np.float32)
            tmp = path.parent / f"{i:05d}.nii.gz"
            nib.save(nib.Nifti1Image(volume, np.eye(4)), str(tmp))
            archive.write(tmp, f"brain_train/{i:05d}.nii.gz")
            tmp.unlink()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(workdir: Path, overlay: Path, env_token: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TEST_MOOD_TOKEN"}
    if env_token:
        env["TEST_MOOD_TOKEN"] = env_token
    return run_snakemake(
        workdir,
        "results/data/test.npy",
        "--configfile",
        str(TINY),
        str(overlay),
        "--cores",
        "1",
        env=env,
        timeout=600,
    )


def write_overlay(tmp_path: Path, url: str, sha256: str) -> Path:
    overlay = tmp_path / "mood.yaml"
    overlay.write_text(
        f"""
dataset: mood
image_size: 32
slices: {{axis: 2, train: [14, 18], test: [16]}}
anomaly: {{radius: 3}}
datasets:
  mood:
    path: '{tmp_path / "data" / "MOOD" / "brain_train"}'
    download: {{url: '{url}', sha256: '{sha256}', token_env: TEST_MOOD_TOKEN, root: brain_train,
               volumes: {{format: '{{:05d}}.nii.gz', count: 6}}}}
"""
    )
    return overlay


def test_download_verify_extract_then_slice(tmp_path, server):
    root, url = server
    sha = mood_like_zip(root / "brain_train.zip")
    overlay = write_overlay(tmp_path, f"{url}/brain_train.zip", sha)
    result = run(tmp_path / "run", overlay, TOKEN)
    assert result.returncode == 0, result.stderr[-4000:]
    data = tmp_path / "data" / "MOOD" / "brain_train"
    assert sorted(p.name for p in data.iterdir()) == [f"{i:05d}.nii.gz" for i in range(6)]
    test = np.load(tmp_path / "run" / "results" / "data" / "test.npy")
    assert test.shape == (3, 32, 32)  # the last 40 % of 6 volumes, one slice each
    downloads = tmp_path / "run" / "results" / "downloads"  # the archive is deleted once extracted
    assert not downloads.exists() or not any(downloads.iterdir())


def test_checksum_mismatch_leaves_nothing_that_looks_done(tmp_path, server):
    root, url = server
    mood_like_zip(root / "brain_train.zip")
    overlay = write_overlay(tmp_path, f"{url}/brain_train.zip", "0" * 64)
    result = run(tmp_path / "run", overlay, TOKEN)
    assert result.returncode != 0
    assert "sha256" in (result.stdout + result.stderr).lower()
    data = tmp_path / "data" / "MOOD" / "brain_train"
    assert not data.exists() or not any(data.iterdir())
    downloads = tmp_path / "run" / "results" / "downloads"
    assert not downloads.exists() or not any(downloads.iterdir())


def test_missing_token_explains_how_to_get_one(tmp_path, server):
    root, url = server
    sha = mood_like_zip(root / "brain_train.zip")
    result = run(tmp_path / "run", write_overlay(tmp_path, f"{url}/brain_train.zip", sha), None)
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "TEST_MOOD_TOKEN" in text and "syn21343101" in text
