"""Writing files so that a killed run never leaves half of one: every file the framework writes goes
through :func:`atomic_open` (a temporary ``.<name>.tmp<pid>`` beside it, renamed over it when complete),
and every CSV through :func:`write_csv`. :func:`mtime` is the file time the staleness checks compare.

A leaf module: imports nothing of the project, so ``config`` and ``dataloader`` may use it too.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def temporary_name(path: Path) -> Path:
    """The temporary file :func:`atomic_open` writes first; a run folder's cleanup removes leftovers by this pattern."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, newline: str | None = None, fsync: bool = False) -> Iterator[IO]:
    """Open a temporary file beside `path` (its folder created), and rename it over `path` on success.

    On an exception the temporary file is removed and `path` keeps its previous content. `fsync` forces
    the bytes to disk before the rename (checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, mode, newline=newline) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_csv(path: str | Path, header: Sequence[str], rows: Sequence[Sequence | Mapping]) -> None:
    """A CSV with a header row, written atomically; a row is a sequence in header order or a mapping by column
    (a column it lacks is left empty)."""
    with atomic_open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([[row.get(h, "") for h in header] if isinstance(row, Mapping) else row for row in rows])


def mtime(path: Path) -> float:
    """Modification time of `path` in seconds, -1 when it does not exist (older than anything)."""
    return path.stat().st_mtime if path.exists() else -1.0
