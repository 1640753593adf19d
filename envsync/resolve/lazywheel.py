"""Read a remote wheel's METADATA with a few HTTP range requests instead of downloading it.

An index that does not offer PEP 658 metadata files would otherwise cost a whole wheel
(tens of MB for numpy or scipy) per version the resolver looks at. A zip keeps its
directory at the end, so zipfile, given a file object that fetches byte ranges on
demand, needs only the tail and the one member: usually two or three requests.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

BLOCK = 1 << 16  # fetch at least this much per request: the directory and METADATA usually fit

# fetch(start, end) -> (bytes from start up to end (exclusive), total file size)
RangeFetch = Callable[[int, int], tuple[bytes, int]]
# fetch_tail(n) -> (the last n bytes, or the whole file if smaller, and the total file size)
TailFetch = Callable[[int], tuple[bytes, int]]


class NoRanges(Exception):
    """The server does not answer range requests; download the whole file instead."""


class RangeReader(io.RawIOBase):
    """A read-only, seekable file over a remote resource, fetched in blocks as it is read."""

    def __init__(self, fetch: RangeFetch, tail: bytes, size: int) -> None:
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._position = 0
        self._chunks: list[tuple[int, bytes]] = [(size - len(tail), tail)]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)  # io hands a bytearray or a memoryview of bytes: the same length and slices
        wanted = min(len(view), self._size - self._position)
        if wanted <= 0:
            return 0
        data = self._read(self._position, self._position + wanted)
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def _read(self, start: int, end: int) -> bytes:
        for offset, chunk in self._chunks:
            if offset <= start and end <= offset + len(chunk):
                return chunk[start - offset:end - offset]
        fetch_end = min(self._size, max(end, start + BLOCK))
        data, _ = self._fetch(start, fetch_end)
        if len(data) < end - start:
            raise NoRanges(f"asked for {end - start} bytes at {start}, got {len(data)}")
        self._chunks.append((start, data))
        return data[: end - start]


def remote_metadata(fetch_tail: TailFetch, fetch: RangeFetch) -> bytes | None:
    """The wheel's `*.dist-info/METADATA`, read through range requests; None if it has none."""
    tail, size = fetch_tail(BLOCK)
    with zipfile.ZipFile(RangeReader(fetch, tail, size)) as archive:
        for info in archive.infolist():
            parts = info.filename.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return archive.read(info)
    return None
