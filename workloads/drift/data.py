"""Local parquet data opened as column-at-a-time sources (S3 data: s3data.py).

Errors name the file (local path or `s3://` URI) and the cause. A file that is not readable
parquet among several is left out and reported (UnreadableFileError, exit 6, after the report of
the rest); when no file is readable the run stops with that error. Nothing here needs boto3, so
`compare` runs without it.
"""

from __future__ import annotations

from pathlib import Path

from workloads.drift.errors import NoDataError, Problem, UnreadableFileError
from workloads.drift.sources import ParquetPart, Source


def open_parts(openers: list[tuple[str, object]], where: str) -> Source:
    """A source of every readable file; unreadable ones become problems (all unreadable: raise)."""
    parts, problems = [], []
    for where, opener in openers:
        try:
            parts.append(ParquetPart(opener, where))
        except UnreadableFileError as error:
            problems.append(Problem.of(error))
    if not parts:
        raise UnreadableFileError("; ".join(p.message for p in problems))
    return Source(parts, problems, where)


def open_local(path: str | Path) -> Source:
    """A parquet file, or every `*.parquet` under a directory (a downloaded partition)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise NoDataError(f"{path}: no *.parquet files")
    elif not path.exists():
        raise UnreadableFileError(f"{path}: No such file or directory")
    else:
        files = [path]
    for file in files:
        try:
            file.open("rb").close()
        except OSError as error:
            raise UnreadableFileError(f"{file}: {error.strerror}") from None
    return open_parts([(str(f), (lambda f=f: str(f))) for f in files], str(path))
