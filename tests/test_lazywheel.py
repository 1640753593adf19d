"""Metadata from a few HTTP range requests when the index offers no PEP 658 files."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.resolve import lazywheel
from envsync.resolve.lazywheel import BLOCK, RangeReader, remote_metadata


def test_metadata_is_read_with_ranges_not_whole_wheels(tmp_path: Path):
    with LocalIndex(tmp_path / "idx", metadata=False) as index:
        index.ranges = True
        files = {f"heavy/part{i}.py": f"# {i}\n" + "x = 1\n" * 20_000 for i in range(10)}
        index.add(WheelSpec("heavy", "1.0", requires=["light"], files={**files, "heavy/__init__.py": ""}))
        index.add(WheelSpec("light", "1.0"))
        project = tmp_path / "project"
        write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["heavy"]\n')
        result = run_envsync("lock", cwd=project)
        assert result.returncode == 0, result.stderr
        assert 'name = "light"' in (project / "pylock.e.toml").read_text()
        wheel_requests = [h for path, h in index.request_headers if path.endswith(".whl")]
        assert wheel_requests and all("range" in headers for headers in wheel_requests)
        assert not [p for p in index.requests if p.endswith(".metadata")]


def test_a_server_without_ranges_still_works(tmp_path: Path):
    with LocalIndex(tmp_path / "idx", metadata=False) as index:  # ranges off: 200 with the whole file
        index.add(WheelSpec("heavy", "1.0", requires=["light"]))
        index.add(WheelSpec("light", "1.0"))
        project = tmp_path / "project"
        write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["heavy"]\n')
        result = run_envsync("apply", cwd=project)
        assert result.returncode == 0, result.stderr


# -- reading the zip's directory straight from the bytes ------------------------------------------

def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED, comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.comment = comment
    return buffer.getvalue()


class RemoteFile:
    """A file served by range: what remote_metadata may ask of it, and what it asked."""

    def __init__(self, data: bytes) -> None:
        self.data, self.asked = data, []

    def tail(self, length: int) -> tuple[bytes, int]:
        self.asked.append(("tail", length))
        return self.data[-length:], len(self.data)

    def range(self, start: int, end: int) -> tuple[bytes, int]:
        self.asked.append((start, end))
        return self.data[start:end], len(self.data)


def by_zipfile(data: bytes) -> bytes | None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        return archive.read(names[0]) if names else None


METADATA = b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\nRequires-Dist: small>=2\n"


def big_wheel(**options: object) -> bytes:
    """Thousands of members, METADATA among the last but far from the end, as in botocore's wheel."""
    members = {f"big/data/file{n:05}.json": os.urandom(64) for n in range(3000)}
    members["big-1.0.dist-info/METADATA"] = METADATA
    members["big-1.0.dist-info/RECORD"] = os.urandom(80_000)  # noise between METADATA and the directory
    return zip_bytes(members, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [
    zip_bytes({"small/__init__.py": b"", "small-2.0.dist-info/METADATA": METADATA}),
    zip_bytes({"small-2.0.dist-info/METADATA": METADATA}, compression=zipfile.ZIP_STORED),
    zip_bytes({"small-2.0.dist-info/METADATA": METADATA}, comment=b"built by a test"),
    big_wheel(),
    big_wheel(compression=zipfile.ZIP_STORED),
    b"bytes before the archive" + zip_bytes({"small-2.0.dist-info/METADATA": METADATA}),  # zipfile's case
    zip_bytes({"small/__init__.py": b"", "small/sub.dist-info/METADATA": b"not this one"}),  # no METADATA
], ids=["small", "stored", "comment", "big", "big-stored", "prefixed", "none"])
def test_metadata_read_from_the_directory_is_what_zipfile_reads(data: bytes) -> None:
    remote = RemoteFile(data)
    assert remote_metadata(remote.tail, remote.range) == by_zipfile(data)
    # Only a zip with bytes before it is left to zipfile; the others are read from the directory.
    quick = lazywheel._metadata_from_directory(data[-BLOCK:], len(data), remote.range)
    assert (quick is lazywheel._UNUSUAL) == data.startswith(b"bytes before")


def test_a_big_wheel_costs_no_more_requests_than_through_zipfile() -> None:
    data = big_wheel()
    remote = RemoteFile(data)
    assert remote_metadata(remote.tail, remote.range) == METADATA
    assert len(data) > 2 * BLOCK and 2 <= len(remote.asked) <= 3  # the tail, the directory's head, METADATA
    through_zipfile = RemoteFile(data)
    with zipfile.ZipFile(RangeReader(through_zipfile.range, *through_zipfile.tail(BLOCK))) as archive:
        archive.read("big-1.0.dist-info/METADATA")
    assert len(remote.asked) <= len(through_zipfile.asked)


def test_a_damaged_metadata_member_is_refused_as_zipfile_refuses_it() -> None:
    data = bytearray(zip_bytes({"small-2.0.dist-info/METADATA": METADATA}, compression=zipfile.ZIP_STORED))
    data[data.index(b"Name: big")] = ord("X")  # the bytes no longer match the CRC-32
    remote = RemoteFile(bytes(data))
    with pytest.raises(zipfile.BadZipFile):
        remote_metadata(remote.tail, remote.range)
    with pytest.raises(zipfile.BadZipFile):
        by_zipfile(bytes(data))
    renamed = bytearray(zip_bytes({"small-2.0.dist-info/METADATA": METADATA}))
    renamed[renamed.index(b"small-2.0")] = ord("S")  # the local header's name, not the directory's
    with pytest.raises(zipfile.BadZipFile):
        remote_metadata(RemoteFile(bytes(renamed)).tail, RemoteFile(bytes(renamed)).range)


def test_an_encrypted_metadata_ends_in_a_message_not_a_traceback(tmp_path: Path) -> None:
    from envsync.errors import UnsafeWheel
    from envsync.model import Artifact, IndexSettings
    from envsync.resolve.index import IndexClient

    data = bytearray(zip_bytes({"small-2.0.dist-info/METADATA": METADATA}, compression=zipfile.ZIP_STORED))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # the "encrypted" bit, both headers
        data[data.index(signature) + flag_at] |= 1
    for encrypted in (bytes(data), b"bytes before" + bytes(data)):  # read from the directory, and by zipfile
        with pytest.raises(zipfile.BadZipFile):
            remote_metadata(RemoteFile(encrypted).tail, RemoteFile(encrypted).range)
    wheel = tmp_path / "small-2.0-py3-none-any.whl"
    wheel.write_bytes(bytes(data))
    client = IndexClient(IndexSettings(index_url=None))
    with pytest.raises(UnsafeWheel, match="small-2.0-py3-none-any.whl is not a readable wheel: METADATA is encrypted"):
        client._metadata_from_wheel(Artifact(wheel.name, wheel.as_uri(), None))
