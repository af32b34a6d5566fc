"""Text encodings of CSV exports: detect UTF-8 or GBK, fingerprint and transcode files.

Chinese operators' exports are UTF-8 or GBK (GB18030). DuckDB reads only UTF-8,
so a GBK file is transcoded once, streaming, into a temporary UTF-8 copy.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from ..errors import InputError

__all__ = [
    "Encoding",
    "Fingerprint",
    "detect_encoding",
    "fingerprint",
    "open_bytes",
    "to_utf8",
]

Encoding = Literal["utf-8", "gbk"]
_SAMPLE = 1 << 20
_CHUNK = 8 << 20
# GB18030 is a superset of GBK and GB2312: decoding with it accepts all three.
_GBK_CODEC = "gb18030"


@dataclass(frozen=True)
class Fingerprint:
    """The identity of a source file: its SHA-256 and its count of line feeds."""

    sha256: str
    size: int
    newlines: int


def open_bytes(path: Path) -> IO[bytes]:
    """Open a file for binary reading, decompressing ``.gz``."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def fingerprint(path: Path, *, count_newlines: bool) -> Fingerprint:
    """SHA-256 of the file as stored, and (for CSV) its line feeds, in one streaming pass."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    newlines = 0
    if count_newlines:
        with open_bytes(path) as fh:
            while chunk := fh.read(_CHUNK):
                newlines += chunk.count(b"\n")
    return Fingerprint(sha256=digest.hexdigest(), size=size, newlines=newlines)


def _decodes(sample: bytes, codec: str, *, complete: bool) -> bool:
    # A sample cut mid-character is fine: only trailing bytes may be incomplete.
    try:
        codecs.getincrementaldecoder(codec)().decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def _sample(path: Path) -> tuple[bytes, bool]:
    try:
        with open_bytes(path) as fh:
            data = fh.read(_SAMPLE + 1)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path.name}: {exc}; check the file is complete") from None
    return data[:_SAMPLE], len(data) <= _SAMPLE


def detect_encoding(path: Path, *, requested: str) -> Encoding:
    """The encoding to read a CSV file with.

    ``requested`` is ``"auto"``, ``"utf-8"`` or ``"gbk"``. ``auto`` picks UTF-8
    when the first megabyte decodes as UTF-8 (ASCII included), else GBK. A
    binary file or a UTF-16 file is refused with what to do.
    """
    sample, complete = _sample(path)
    name = path.name
    if sample.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise InputError(
            f"{name} is an Excel workbook, not a CSV file; save it as CSV (UTF-8) and retry"
        )
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name} is UTF-16 text; save it as UTF-8 or GBK CSV and retry")
    if sample.startswith(b"PAR1"):
        raise InputError(f"{name} is a Parquet file; name it with the .parquet extension")
    if b"\x00" in sample:
        raise InputError(
            f"{name} holds binary data, not CSV text; export the table as CSV or Parquet"
        )
    if requested == "gbk":
        if not _decodes(sample, _GBK_CODEC, complete=complete):
            raise InputError(f"{name} is not valid GBK text; try --encoding utf-8 or auto")
        return "gbk"
    if _decodes(sample, "utf-8", complete=complete):
        return "utf-8"
    if requested == "utf-8":
        raise InputError(f"{name} is not valid UTF-8 text; try --encoding gbk (or auto)")
    if _decodes(sample, _GBK_CODEC, complete=complete):
        return "gbk"
    raise InputError(
        f"{name} is neither UTF-8 nor GBK text; re-export it as UTF-8 CSV, "
        "or pass --encoding if you know its encoding is one of utf-8, gbk"
    )


def to_utf8(path: Path, out: Path) -> Path:
    """Transcode a GBK CSV file to UTF-8 at ``out``, streaming.

    Raises
    ------
    InputError
        The file holds bytes that are not GBK; the message gives the byte offset.
    """
    decoder = codecs.getincrementaldecoder(_GBK_CODEC)()
    offset = 0
    with open_bytes(path) as src, out.open("w", encoding="utf-8", newline="") as dst:
        while True:
            chunk = src.read(_CHUNK)
            try:
                dst.write(decoder.decode(chunk, final=not chunk))
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path.name} is not valid GBK text near byte {offset + exc.start}; "
                    "fix or re-export the file (as UTF-8 if possible)"
                ) from None
            if not chunk:
                break
            offset += len(chunk)
    return out
