"""Fetching and unpacking a gated data release (MOOD 2020 brain, Synapse ``syn21343101``).

Standard library only (urllib, zipfile, tarfile). Both steps are all-or-nothing: a download is
streamed to ``<dest>.part`` and renamed into place only after its size and checksum are
verified; an archive is unpacked into a temporary folder beside the destination and renamed
into place only when complete. :func:`fetch_dataset` chains both, checks that the expected volumes
arrived and then deletes the archive (800 MOOD volumes would otherwise take twice the disk).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from tqdm.auto import tqdm

__all__ = ["DownloadError", "download_file", "extract_archive", "fetch_dataset", "sha256_of"]

CHUNK = 1 << 20
MOOD_SYNAPSE_PROJECT = "syn21343101"


class DownloadError(RuntimeError):
    """A download that did not produce a verified file."""


def _token_help(token_env: str) -> str:
    return (
        f"environment variable {token_env!r} is not set; it must hold a Synapse personal access "
        "token. The MOOD 2020 data is gated: register at https://www.synapse.org, open project "
        f"{MOOD_SYNAPSE_PROJECT} and accept the challenge terms, create a personal access token "
        f"(Account Settings -> Personal Access Tokens), then `export {token_env}=<token>`. "
        "Alternatively download brain_train.zip by hand, unzip it and point the dataset path "
        "at the unzipped folder."
    )


class _StripAuthOnRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects but never send the token to another host (pre-signed S3 URLs)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha256(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    return sha256.lower()


def _stream(response, part: Path, expected_size: int | None, progress: bool, url: str) -> str:
    """Copy the response body into ``part``; return its hex SHA-256."""
    digest = hashlib.sha256()
    received = 0
    with (
        open(part, "wb") as fh,
        tqdm(
            total=expected_size,
            unit="B",
            unit_scale=True,
            desc=part.name.removesuffix(".part"),
            disable=not progress,
        ) as bar,
    ):
        while chunk := response.read(CHUNK):
            fh.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    # http.client returns b'' (no error) when the server closes early: compare ourselves
    if expected_size is not None and received != expected_size:
        raise DownloadError(
            f"incomplete download from {url}: received {received} of {expected_size} bytes"
        )
    return digest.hexdigest()


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | None,
    token_env: str | None = None,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Download ``url`` to ``dest`` atomically and return ``dest``.

    The body is streamed to ``dest.name + '.part'`` beside ``dest``; the size is checked
    against Content-Length, the SHA-256 against ``sha256`` (hex; None skips the check), and
    only then is the file renamed to ``dest``. Any failure removes the partial file and leaves
    ``dest`` untouched. If ``token_env`` is given, the token is read from that environment
    variable and sent as ``Authorization: Bearer <token>`` (not forwarded on a redirect to
    another host). If ``dest`` already exists with the expected checksum, nothing is fetched.

    Raises DownloadError (missing token, HTTP/network error, short body, checksum mismatch)
    and ValueError for a malformed ``sha256``.
    """
    dest = Path(dest)
    expected = _check_sha256(sha256)
    headers = {"User-Agent": "residual-pitfalls"}
    if token_env is not None:
        token = os.environ.get(token_env, "").strip()
        if not token:
            raise DownloadError(_token_help(token_env))
        headers["Authorization"] = f"Bearer {token}"
    if expected is not None and dest.is_file() and sha256_of(dest) == expected:
        return dest

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    opener = urllib.request.build_opener(_StripAuthOnRedirect)
    request = urllib.request.Request(url, headers=headers)
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            size = int(length) if length and length.isdigit() else None
            actual = _stream(response, part, size, progress, url)
        if expected is not None and actual != expected:
            raise DownloadError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {actual}; "
                "the downloaded file was deleted"
            )
        os.replace(part, dest)
    except urllib.error.HTTPError as err:
        hint = (
            f" (check the token in {token_env!r} and that you accepted the data terms)"
            if err.code in (401, 403) and token_env
            else ""
        )
        raise DownloadError(f"HTTP {err.code} {err.reason} for {url}{hint}") from err
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        raise DownloadError(f"download of {url} failed: {err!r}") from err
    finally:
        part.unlink(missing_ok=True)
    return dest


# --------------------------------------------------------------------------- archives


def _check_member(name: str, archive: Path) -> None:
    """Refuse absolute paths, drive letters and '..' components (path traversal)."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) or ".." in parts:
        raise ValueError(
            f"archive {str(archive)!r} contains the unsafe member {name!r}: "
            "absolute paths and '..' are not allowed"
        )


def _is_nifti(path: Path) -> bool:
    junk = path.name.startswith(".") or "__MACOSX" in path.parts
    return path.is_file() and not junk and path.name.endswith((".nii", ".nii.gz"))


def extract_archive(archive: Path, dest_dir: Path, root: str | None = None) -> list[Path]:
    """Unpack a zip or tar(.gz/.bz2/.xz) ``archive`` into ``dest_dir`` atomically.

    ``root``: a folder inside the archive (e.g. MOOD's ``brain_train``) whose content becomes
    ``dest_dir``; None takes the whole archive.

    Members are unpacked into a temporary folder beside ``dest_dir`` that is renamed to
    ``dest_dir`` only when complete, so ``dest_dir`` is never half-filled. Returns the unpacked
    NIfTI files (``*.nii``, ``*.nii.gz``; macOS ``__MACOSX``/``._*`` entries skipped), sorted.

    Raises FileNotFoundError if the archive is missing, FileExistsError if ``dest_dir`` exists
    and is not empty, ValueError for an unknown/corrupt archive or a member with an absolute
    path, '..' or (tar) a link or device.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    if not archive.is_file():
        raise FileNotFoundError(f"archive {str(archive)!r} does not exist")
    if dest_dir.exists() and (not dest_dir.is_dir() or any(dest_dir.iterdir())):
        raise FileExistsError(
            f"{str(dest_dir)!r} already exists and is not an empty folder: remove it first"
        )
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.", dir=dest_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it 0700; the result is an ordinary data folder
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _check_member(name, archive)
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                for member in tf.getmembers():
                    _check_member(member.name, archive)
                    if not (member.isfile() or member.isdir()):
                        raise ValueError(
                            f"archive {str(archive)!r} contains {member.name!r}, which is not "
                            "a regular file or folder (links and devices are not allowed)"
                        )
                tf.extractall(tmp, filter="data")
        else:
            raise ValueError(
                f"{str(archive)!r} is neither a zip nor a tar archive: expected .zip or .tar(.gz)"
            )
        source = tmp / root if root else tmp
        if not source.is_dir():
            raise ValueError(f"archive {str(archive)!r} has no folder {root!r} at its top level")
        if dest_dir.exists():
            dest_dir.rmdir()  # empty, checked above
        os.replace(source, dest_dir)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        raise ValueError(f"archive {str(archive)!r} is corrupt: {err}") from err
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return sorted((p for p in dest_dir.rglob("*") if _is_nifti(p)), key=lambda p: p.as_posix())


# --------------------------------------------------------------------------- both


def fetch_dataset(
    url: str,
    archive: Path,
    dest_dir: Path,
    expected: list[Path],
    *,
    sha256: str | None,
    token_env: str | None = None,
    root: str | None = None,
    progress: bool = True,
) -> list[Path]:
    """Download ``url`` to ``archive`` (verified), unpack it into ``dest_dir``, check that every
    ``expected`` file is there, then delete the archive. Returns the unpacked NIfTI files.

    If an expected file is missing, ``dest_dir`` is removed again (nothing that looks like a
    data set is left) and FileNotFoundError names one missing file; the verified archive is kept
    so that a corrected ``expected`` list does not download it again. Other errors as
    :func:`download_file` and :func:`extract_archive`.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    download_file(url, archive, sha256=sha256, token_env=token_env, progress=progress)
    extracted = extract_archive(archive, dest_dir, root=root)
    missing = [Path(p) for p in expected if not Path(p).is_file()]
    if missing:
        shutil.rmtree(dest_dir)
        raise FileNotFoundError(
            f"the archive {url} did not provide {len(missing)} expected volume(s), e.g. "
            f"{missing[0]}; it contained {len(extracted)} NIfTI files"
        )
    archive.unlink()
    return extracted
