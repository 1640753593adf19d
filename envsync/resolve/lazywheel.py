"""Read a remote wheel's METADATA with a few HTTP range requests instead of downloading it.

An index that does not offer PEP 658 metadata files would otherwise cost a whole wheel
(tens of MB for numpy or scipy) per version the resolver looks at. A zip keeps its
directory at the end, so zipfile, given a file object that fetches byte ranges on
demand, needs only the tail and the one member: usually two or three requests.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
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
    quick = _metadata_from_directory(tail, size, fetch)
    if quick is not _UNUSUAL:
        return quick  # type: ignore[return-value]
    with zipfile.ZipFile(RangeReader(fetch, tail, size)) as archive:
        return metadata_member(archive)


def metadata_member(archive: zipfile.ZipFile) -> bytes | None:
    """The bytes of a wheel's `*.dist-info/METADATA`, None if it has none; an encrypted one is
    zipfile.BadZipFile (zipfile says RuntimeError), as a broken zip is. For a remote wheel read by
    ranges and for a downloaded one alike."""
    for info in archive.infolist():
        if _is_metadata(info.filename.encode("utf-8", "surrogateescape")):
            try:
                return archive.read(info)
            except RuntimeError:  # zipfile's word for an encrypted member
                raise zipfile.BadZipFile("METADATA is encrypted") from None
    return None


def _is_metadata(name: bytes) -> bool:
    return name.endswith(b".dist-info/METADATA") and name.count(b"/") == 1


# The zip records read here (APPNOTE.TXT 4.3.16, 4.3.12, 4.3.7), little-endian.
_END = struct.Struct("<4s4H2LH")  # end of central directory: signature ... size and offset of the directory
_ENTRY = struct.Struct("<4s4B4HL2L5H2L")  # a central directory entry, before its name
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # a local file header, before its name
_UNUSUAL = object()  # a zip the quick reading leaves to zipfile: zip64, a prefix, other compressions
MAX_METADATA = 64 << 20  # a METADATA file declared bigger than this is left to zipfile's checks too


def _metadata_from_directory(tail: bytes, size: int, fetch: RangeFetch) -> bytes | None | object:
    """METADATA found by reading the zip's central directory straight from the bytes, or _UNUSUAL.

    zipfile builds a ZipInfo for every member, and a big wheel has thousands: this reads the
    directory's entries as plain records until METADATA's, and only that member, with the
    same checks zipfile makes (its name in both headers, its size, its CRC-32). A zip this
    does not expect (zip64, bytes before the archive, a compression other than deflate, an
    encrypted member) is read by zipfile instead; a broken one raises zipfile.BadZipFile.
    """
    tail_start = size - len(tail)
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or end + _END.size > len(tail):
        return _UNUSUAL
    _, disk, directory_disk, _, count, directory_size, directory_offset, comment = _END.unpack_from(tail, end)
    if (end + _END.size + comment != len(tail) or disk or directory_disk or count == 0xFFFF
            or 0xFFFFFFFF in (directory_size, directory_offset) or (end >= 20 and tail[end - 20:end - 16] == b"PK\x06\x07")):
        return _UNUSUAL  # not the end record (a comment's bytes), or a zip64 one
    if tail_start + end - directory_size != directory_offset:
        return _UNUSUAL  # bytes before the archive (or a lie): zipfile knows how to shift offsets
    if directory_offset >= tail_start:
        directory = tail[directory_offset - tail_start:end]
    else:
        head = _fetched(fetch, directory_offset, tail_start)
        directory = head + tail[:end]
    position = 0
    for _ in range(count):
        if len(directory) < position + _ENTRY.size or directory[position:position + 4] != b"PK\x01\x02":
            raise zipfile.BadZipFile("a central directory entry is broken")
        fields = _ENTRY.unpack_from(directory, position)
        flags, method, crc, packed, unpacked, name_length, extra_length, comment_length = (
            fields[5], fields[6], fields[9], fields[10], fields[11], fields[12], fields[13], fields[14])
        offset = fields[18]
        name = directory[position + _ENTRY.size:position + _ENTRY.size + name_length]
        position += _ENTRY.size + name_length + extra_length + comment_length
        if not _is_metadata(name):
            continue
        if flags & 1:
            raise zipfile.BadZipFile("METADATA is encrypted")  # no wheel's is: the whole download refuses it
        if method not in (0, 8) or unpacked > MAX_METADATA or 0xFFFFFFFF in (packed, offset):
            return _UNUSUAL
        return _member(tail, tail_start, fetch, name, method, crc, packed, unpacked, offset)
    return None


def _member(tail: bytes, tail_start: int, fetch: RangeFetch, name: bytes, method: int, crc: int,
            packed: int, unpacked: int, offset: int) -> bytes:
    """One member's bytes, from its local header on: from the tail when there, else fetched."""
    if offset >= tail_start:
        block = tail[offset - tail_start:]
    else:  # a block from the header on, as RangeReader would fetch it; joined to the tail if it reaches it
        block_end = offset + max(BLOCK, _LOCAL.size + len(name) + packed + 1024)
        block = (_fetched(fetch, offset, tail_start) + tail if block_end >= tail_start
                 else _fetched(fetch, offset, block_end))
    if len(block) < _LOCAL.size or block[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("a member's local header is broken")
    local = _LOCAL.unpack_from(block)
    start = _LOCAL.size + local[10] + local[11]
    if block[_LOCAL.size:_LOCAL.size + local[10]] != name:
        raise zipfile.BadZipFile("a member's name differs in its two headers")
    if len(block) < start + packed:
        if offset + start + packed > tail_start + len(tail):
            raise zipfile.BadZipFile("METADATA runs past the end of the file")
        block += _fetched(fetch, offset + len(block), offset + start + packed)
    data = block[start:start + packed]
    if method == 8:
        inflater = zlib.decompressobj(-15)
        data = inflater.decompress(data, unpacked + 1)
    if len(data) != unpacked or zlib.crc32(data) != crc:
        raise zipfile.BadZipFile("METADATA does not match its size or CRC-32")
    return data


def _fetched(fetch: RangeFetch, start: int, end: int) -> bytes:
    data, _ = fetch(start, end)
    if len(data) != end - start:
        raise NoRanges(f"asked for {end - start} bytes at {start}, got {len(data)}")
    return data
