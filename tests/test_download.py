"""Tests for residual_pitfalls.data.download against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from residual_pitfalls.data.download import (
    DownloadError,
    download_file,
    extract_archive,
    fetch_dataset,
    sha256_of,
)
from residual_pitfalls.data.nifti import list_volumes
from residual_pitfalls.data.volumes import load_volume

TOKEN_ENV = "RP_TEST_SYNAPSE_TOKEN"


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (kind, body_or_target)``; records every request."""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.server.requests.append((self.path, dict(self.headers)))
        kind, payload = self.server.routes.get(self.path, ("missing", b""))
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", payload)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "missing" or (
            kind == "auth" and self.headers.get("Authorization") != "Bearer s3cret"
        ):
            self.send_response(404 if kind == "missing" else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        claimed = len(payload) + (1000 if kind == "short" else 0)
        self.send_header("Content-Length", str(claimed))
        self.end_headers()
        if kind in ("ok", "auth", "short"):
            self.wfile.write(payload)
        elif kind in ("die", "hang"):
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            if kind == "hang":
                self.server.release.wait(10)
        self.close_connection = True
        if kind in ("die", "short"):
            self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def serve():
    """``serve(routes) -> base URL`` of a fresh 127.0.0.1 server; ``.requests`` on the result."""
    servers = []

    def start(routes: dict) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.routes, server.requests = routes, []
        server.release = threading.Event()
        server.handle_error = lambda *a: None  # broken pipes from the "die" handlers
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        start.last = server
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def mood_zip(write_nifti, make_phantom, rng, tmp_path) -> bytes:
    """A zip laid out like brain_train.zip with two tiny volumes (plus macOS junk)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(2):
            path = write_nifti(tmp_path / "src" / f"{i:05d}.nii.gz", make_phantom((8, 8, 8), rng))
            zf.write(path, f"brain_train/{i:05d}.nii.gz")
        zf.writestr("__MACOSX/brain_train/._00000.nii.gz", b"junk")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------- download


def test_download_and_extract_end_to_end(serve, mood_zip, tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    base = serve({"/brain_train.zip": ("auth", mood_zip)})
    dest = tmp_path / "dl" / "brain_train.zip"
    got = download_file(
        base + "/brain_train.zip", dest, sha256=sha(mood_zip), token_env=TOKEN_ENV, progress=True
    )
    assert got == dest and dest.read_bytes() == mood_zip
    assert leftovers(dest.parent) == ["brain_train.zip"]  # no .part left
    assert serve.last.requests[0][1]["Authorization"] == "Bearer s3cret"

    files = extract_archive(dest, tmp_path / "mood")
    assert [p.relative_to(tmp_path / "mood").as_posix() for p in files] == [
        "brain_train/00000.nii.gz",
        "brain_train/00001.nii.gz",
    ]
    assert list_volumes(tmp_path / "mood" / "brain_train") == files
    assert load_volume(files[0]).shape == (8, 8, 8)


def test_fetch_dataset_deletes_the_archive_after_a_verified_extraction(
    serve, mood_zip, tmp_path, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    base = serve({"/brain_train.zip": ("auth", mood_zip)})
    archive, dest = tmp_path / "downloads" / "mood.archive", tmp_path / "data" / "brain_train"
    expected = [dest / "00000.nii.gz", dest / "00001.nii.gz"]
    files = fetch_dataset(
        base + "/brain_train.zip",
        archive,
        dest,
        expected,
        sha256=sha(mood_zip),
        token_env=TOKEN_ENV,
        root="brain_train",
        progress=False,
    )
    assert files == expected and load_volume(files[1]).shape == (8, 8, 8)
    assert leftovers(archive.parent) == []  # no archive, no .part: the volumes exist once


def test_fetch_dataset_missing_volume_removes_the_folder_and_keeps_the_archive(
    serve, mood_zip, tmp_path
):
    base = serve({"/brain_train.zip": ("ok", mood_zip)})
    archive, dest = tmp_path / "downloads" / "mood.archive", tmp_path / "data" / "brain_train"
    with pytest.raises(FileNotFoundError, match="00002.nii.gz"):
        fetch_dataset(
            base + "/brain_train.zip",
            archive,
            dest,
            [dest / f"{i:05d}.nii.gz" for i in range(3)],
            sha256=sha(mood_zip),
            root="brain_train",
            progress=False,
        )
    assert not dest.exists()
    assert archive.read_bytes() == mood_zip  # verified: a corrected volume list reuses it
    assert len(serve.last.requests) == 1


def test_download_without_checksum_and_skip_when_verified(serve, tmp_path):
    body = b"x" * 5000
    base = serve({"/f": ("ok", body)})
    dest = download_file(base + "/f", tmp_path / "f.bin", sha256=None, progress=False)
    assert dest.read_bytes() == body and len(serve.last.requests) == 1
    download_file(base + "/f", dest, sha256=sha(body), progress=False)
    assert len(serve.last.requests) == 1  # already there and verified: nothing fetched
    assert sha256_of(dest) == sha(body)


def test_checksum_mismatch_removes_file(serve, tmp_path):
    body = b"payload" * 1000
    base = serve({"/f": ("ok", body)})
    dest = tmp_path / "out" / "f.zip"
    wrong = "0" * 64
    with pytest.raises(DownloadError, match=f"expected sha256 {wrong}, got {sha(body)}"):
        download_file(base + "/f", dest, sha256=wrong, progress=False)
    assert leftovers(dest.parent) == []


def test_missing_token_explains_what_to_do(serve, tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    base = serve({"/f": ("ok", b"abc")})
    with pytest.raises(DownloadError) as info:
        download_file(base + "/f", tmp_path / "f", sha256=None, token_env=TOKEN_ENV)
    message = str(info.value)
    for needle in (TOKEN_ENV, "syn21343101", "personal access token", "brain_train.zip"):
        assert needle in message
    assert serve.last.requests == [] and not (tmp_path / "f").exists()


def test_wrong_token_gets_http_error_with_hint(serve, tmp_path, monkeypatch):
    base = serve({"/f": ("auth", b"abc")})
    monkeypatch.setenv(TOKEN_ENV, "wrong-t0ken")
    with pytest.raises(DownloadError, match=f"HTTP 401.*{TOKEN_ENV}") as info:
        download_file(base + "/f", tmp_path / "f", sha256=None, token_env=TOKEN_ENV)
    assert "t0ken" not in str(info.value)  # the secret never ends up in a log
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["die", "short"])
def test_interrupted_transfer_leaves_nothing(serve, tmp_path, kind):
    body = bytes(range(256)) * 400
    base = serve({"/f": (kind, body)})
    dest = tmp_path / "f.zip"
    with pytest.raises(DownloadError, match="127.0.0.1"):
        download_file(base + "/f", dest, sha256=None, progress=False)
    assert leftovers(tmp_path) == []


def test_stalled_transfer_times_out(serve, tmp_path):
    base = serve({"/f": ("hang", b"z" * 100_000)})
    with pytest.raises(DownloadError):
        download_file(base + "/f", tmp_path / "f", sha256=None, progress=False, timeout=0.5)
    assert leftovers(tmp_path) == []


def test_token_not_forwarded_to_other_host(serve, tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    storage = serve({"/blob": ("ok", b"data" * 10)})
    storage_server = serve.last
    api = serve({"/file": ("redirect", storage + "/blob")})
    dest = download_file(api + "/file", tmp_path / "f", sha256=None, token_env=TOKEN_ENV)
    assert dest.read_bytes() == b"data" * 10
    assert serve.last.requests[0][1]["Authorization"] == "Bearer s3cret"
    assert "Authorization" not in storage_server.requests[0][1]


def test_bad_sha256_argument(tmp_path):
    with pytest.raises(ValueError, match="64 hex"):
        download_file("http://127.0.0.1:9/x", tmp_path / "x", sha256="abc")


# --------------------------------------------------------------------------- extract


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_extract_tar_gz(tmp_path, write_nifti, make_phantom, rng):
    src = write_nifti(tmp_path / "a.nii.gz", make_phantom((8, 8, 8), rng))
    archive = tmp_path / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src, "toy/toy_0.nii.gz")
        tf.add(src, "toy/readme.txt")
    files = extract_archive(archive, tmp_path / "out")
    assert [p.name for p in files] == ["toy_0.nii.gz"]
    np.testing.assert_array_equal(load_volume(files[0]), load_volume(src))


@pytest.mark.parametrize("bad", ["../evil.nii.gz", "/abs/evil.nii.gz", "ok/../../evil.nii"])
def test_extract_rejects_path_traversal(tmp_path, bad):
    archive = make_zip(tmp_path / "bad.zip", {"fine.nii.gz": b"1", bad: b"2"})
    dest = tmp_path / "sub" / "out"
    with pytest.raises(ValueError, match=r"bad\.zip.*unsafe member"):
        extract_archive(archive, dest)
    assert leftovers(dest.parent) == []  # neither dest nor a temporary folder
    assert not (tmp_path / "evil.nii.gz").exists()


def test_extract_rejects_tar_links(tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("link.nii.gz")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(ValueError, match=r"links\.tar.*link\.nii\.gz.*not a regular file"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extract_refuses_nonempty_dest_and_non_archives(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"x.nii.gz": b"1"})
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="out"):
        extract_archive(archive, dest)
    assert leftovers(dest) == ["keep.txt"]
    assert [p.name for p in extract_archive(archive, tmp_path / "empty_ok")] == ["x.nii.gz"]

    not_archive = tmp_path / "plain.zip"
    not_archive.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match=r"plain\.zip.*neither a zip nor a tar"):
        extract_archive(not_archive, tmp_path / "out2")
    with pytest.raises(FileNotFoundError, match="nothere"):
        extract_archive(tmp_path / "nothere.zip", tmp_path / "out3")
    assert sorted(leftovers(tmp_path)) == ["a.zip", "empty_ok", "out", "plain.zip"]
