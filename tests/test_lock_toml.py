"""A lock's TOML table is made by reading its fields (resolve/lock_toml.py), not by packaging's
`to_dict` (which deep-copies everything): the two must agree on every field a lock can have."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from packaging.markers import Marker
from packaging.pylock import (
    Package,
    PackageArchive,
    PackageDirectory,
    PackageSdist,
    PackageVcs,
    PackageWheel,
    Pylock,
)
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envsync.resolve.lock_toml import lock_table


def _lists(value: Any) -> Any:
    """to_dict keeps tuples where the document has them; TOML (and lock_table) has only arrays."""
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    return value


def _every_kind_of_package() -> list[Package]:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return [
        Package(name=canonicalize_name("wheels"), version=Version("1.0"), marker=Marker('sys_platform == "linux"'),
                requires_python=SpecifierSet(">=3.9"), index="https://pypi.org/simple",
                dependencies=({"name": "dep", "version": "2.0"}, {"name": "other"}),
                wheels=(PackageWheel(name="wheels-1.0-py3-none-any.whl", url="https://x/wheels-1.0-py3-none-any.whl",
                                     upload_time=when, size=10, hashes={"sha256": "a" * 64}),
                        PackageWheel(name="wheels-1.0-cp311-cp311-linux_x86_64.whl", path="wheels/w.whl", size=11,
                                     hashes={"sha256": "b" * 64})),
                sdist=PackageSdist(name="wheels-1.0.tar.gz", url="https://x/wheels-1.0.tar.gz", size=12,
                                   hashes={"sha256": "c" * 64})),
        Package(name=canonicalize_name("from-git"), vcs=PackageVcs(type="git", url="https://g/x.git",
                                                                   requested_revision="main", commit_id="d" * 40,
                                                                   subdirectory="sub")),
        Package(name=canonicalize_name("project"), version=Version("0.1"),
                directory=PackageDirectory(path=".", editable=True)),
        Package(name=canonicalize_name("archive"), version=Version("3.0.post1"),
                archive=PackageArchive(url="https://x/archive.zip", size=13, upload_time=when,
                                       hashes={"sha256": "e" * 64}),
                attestation_identities=[{"kind": "GitHub", "repository": "o/r"}],
                tool={"envsync": {"reasons": ["app"]}}),
    ]


def test_the_table_is_the_one_packaging_makes_for_every_field():
    document = Pylock(lock_version=Version("1.0"), environments=[Marker('python_version == "3.11"')],
                      requires_python=SpecifierSet("==3.11.*"), extras=[canonicalize_name("cli")],
                      dependency_groups=["dev"], default_groups=["dev"], created_by="envsync",
                      packages=_every_kind_of_package(), tool={"envsync": {"inputs": "f" * 64, "platforms": ("a", "b")}})
    table = lock_table(document)
    assert table == _lists(document.to_dict())
    assert Pylock.from_dict(table) == Pylock.from_dict(_lists(document.to_dict()))  # and it is a valid lock


def test_fields_left_empty_are_left_out():
    document = Pylock(lock_version=Version("1.0"), created_by="envsync",
                      packages=[Package(name=canonicalize_name("bare"))])
    assert lock_table(document) == {"lock-version": "1.0", "created-by": "envsync", "packages": [{"name": "bare"}]}
