"""Crash-safe artifact files: temp file, fsync, os.replace, fsync the directory.

A model directory is written whole under a temporary name and renamed into place, so
a reader sees either nothing or a complete model. `meta.json` records a SHA-256 per
file; `check_files` refuses anything truncated or altered. Nothing here unpickles.

Only what is proven broken raises `ArtifactError` (a missing file, content that does not
parse, a checksum that does not match): that model is quarantined. The OS refusing a
read now (too many open files, an I/O error, a permission) proves nothing about the
artifact: that raises `ArtifactUnavailable`, and the caller tries again later.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

META = "meta.json"


class ArtifactError(Exception):
    """A model artifact that cannot be trusted: missing, truncated, altered or of a wrong schema."""


class ArtifactUnavailable(Exception):
    """An artifact the OS would not let us read just now (EMFILE, EIO, EACCES ...): not
    proven broken, so never quarantined for it; try again later."""


MISSING = (errno.ENOENT, errno.ENOTDIR)  # the file is not there: the artifact is broken


def os_error(exc: OSError, name: str) -> ArtifactError | ArtifactUnavailable:
    """What a failed read of `name` proves: a missing file, or nothing (a transient error)."""
    if exc.errno in MISSING:
        return ArtifactError(f"{name}: missing ({exc})")
    return ArtifactUnavailable(f"{name}: not readable now ({exc})")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_json(path: Path, value: object) -> None:
    write_bytes(path, json.dumps(value, indent=1, sort_keys=True).encode())


def read_json(path: Path) -> Any:
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise os_error(exc, Path(path).name) from None
    try:
        return json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path.name}: unreadable ({exc})") from None


def sha256(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise os_error(exc, Path(path).name) from None


def check_files(directory: Path, files: dict[str, str]) -> None:
    for name, digest in files.items():
        path = Path(directory) / name
        try:
            there = path.is_file()
        except OSError as exc:
            raise os_error(exc, name) from None
        if "/" in name or name.startswith(".") or not there:
            raise ArtifactError(f"{name}: missing from {directory}")
        if sha256(path) != digest:
            raise ArtifactError(f"{name}: checksum mismatch (truncated or altered)")


def publish_dir(tmp_dir: Path, final_dir: Path) -> None:
    """Move a fully written temp directory into place (refuses to overwrite)."""
    for child in Path(tmp_dir).iterdir():
        fsync_dir(child)  # works for files and directories alike
    fsync_dir(tmp_dir)
    if final_dir.exists():
        raise ArtifactError(f"{final_dir} already exists")
    os.replace(tmp_dir, final_dir)
    fsync_dir(final_dir.parent)


def temp_dir_for(final_dir: Path) -> Path:
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=final_dir.parent, prefix=f".{final_dir.name}.tmp-"))


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
