"""Where a wheel's files may land: inside the env, once each, and over an existing file only
when that file is one the install may replace, or holds the very same bytes (a shared file).

Checked before anything is written, for one wheel (`check_targets`) and for every wheel an
apply installs into one env (`check_plan_fits`), so a conflict never leaves an env half-changed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from envsync.errors import UnsafeWheel
from envsync.install.layout import SiteLayout
from envsync.install.shared import same_content
from envsync.install.uninstall import record_paths


class Target(NamedTuple):
    """One file an install writes: where, what for (for messages), and its RECORD hash (None: unknown).

    `dest` is a normal absolute path (site.plan_install builds it from layout_for's folders and
    archive paths wheel.py checked: no "", "." or ".." parts), so two writes of one file have
    equal `dest`s. A named tuple: a large env writes tens of thousands of these."""

    dest: str
    origin: str
    digest: str | None


@dataclass(frozen=True)
class Placement:
    """How an install treats its existing destinations."""

    replacing: frozenset[str]  # existing files it writes over (staged beside, renamed over)
    shared: frozenset[str]  # existing files with the same bytes: left as they are, listed by both
    folders: frozenset[str] = frozenset()  # destination folders, and their parents, that exist


def check_targets(targets: list[Target], layout: SiteLayout, *, owned: frozenset[str], owned_folders: Iterable[str],
                  overwritable: frozenset[str], label: str) -> Placement:
    """Refuse, before writing anything, a destination outside the venv, twice used, or existing and
    neither the old version's (`owned`, or in `owned_folders`), nor a file of a package this apply
    removes or replaces (`overwritable`), nor holding the same bytes."""
    folders = _FolderCache(Path(os.path.realpath(layout.root)))
    owned_in = frozenset(owned_folders)
    seen: dict[str, str] = {}
    existing: list[str] = []
    replacing: set[str] = set()
    shared: set[str] = set()
    for dest, origin, digest in targets:
        folder, _, name = dest.rpartition(os.sep)
        inside, present = folders.lookup(folder or os.sep)
        # An existing dest (a symlink too) is refused below, so its folder decides where it lands.
        if not inside or name in ("", ".", ".."):
            raise UnsafeWheel(f"refusing {origin!r}: it would be written to {dest}, outside the env {layout.root}")
        if dest in seen:
            raise UnsafeWheel(f"refusing {origin!r}: {seen[dest]!r} is also installed to {dest}")
        seen[dest] = origin
        if present and os.path.lexists(dest):  # in a folder that does not exist yet, nothing can
            normal = os.path.normpath(dest)
            ours = normal in owned or normal in overwritable or os.path.dirname(dest) in owned_in
            if ours and not os.path.isdir(dest):
                replacing.add(dest)
            elif digest is not None and same_content(dest, digest):
                shared.add(dest)
            else:
                existing.append(dest)
    if existing:
        raise _conflict(existing, layout, label)
    return Placement(frozenset(replacing), frozenset(shared), folders.present())


def check_plan_fits(planned: list[tuple[str, list[Target]]]) -> None:
    """Refuse two wheels of one apply that write one path with different contents; the same
    bytes from both are shared. `planned` holds (\"name version\", its targets) per wheel."""
    claimed: dict[str, tuple[str | None, str]] = {}
    for label, targets in planned:
        for dest, _, digest in targets:
            other = claimed.get(dest)
            if other is None:
                claimed[dest] = (digest, label)
            elif other[0] is None or other[0] != digest:
                raise UnsafeWheel(f"{label} and {other[1]} both install {dest}, with different contents",
                                  hint="they can't be installed together: drop one of them")


class _FolderCache:
    """Per destination folder: is its real path inside the env (by path components), does it exist?

    Many files share few folders, so each is resolved once. A folder that does not exist yet
    will be made by us as a plain folder, so its real path is its nearest existing ancestor's
    real path plus the rest, read lexically. Plain strings, not Paths: a large env has
    thousands of folders, and pathlib's joins and comparisons cost several times more.
    """

    def __init__(self, root: Path) -> None:
        self._root = str(root)
        self._root_slash = os.path.join(self._root, "")
        self._real: dict[str, tuple[str, bool]] = {}
        self._answers: dict[str, tuple[bool, bool]] = {}

    def lookup(self, folder: str) -> tuple[bool, bool]:
        """(inside the env, exists now) for a destination folder."""
        answer = self._answers.get(folder)
        if answer is None:
            real, present = self._resolve(folder)
            inside = real == self._root or real.startswith(self._root_slash)
            answer = self._answers[folder] = (inside, present)
        return answer

    def present(self) -> frozenset[str]:
        """Every folder looked at that exists."""
        return frozenset(folder for folder, (_, present) in self._real.items() if present)

    def _resolve(self, folder: str) -> tuple[str, bool]:
        known = self._real.get(folder)
        if known is None:
            parent = os.path.dirname(folder)
            if parent == folder:
                known = (os.path.realpath(folder), True)
            else:
                # In a folder that does not exist nothing does: a new env's thousands of folders
                # cost one look each at the few that exist, none at the rest.
                parent_real, parent_present = self._resolve(parent)
                here = os.path.join(parent_real, os.path.basename(folder))
                try:
                    mode = os.lstat(folder).st_mode if parent_present else None
                except OSError:
                    mode = None
                if mode is not None and stat.S_ISLNK(mode):
                    real = os.path.realpath(folder)
                    known = (real, os.path.isdir(real))
                else:
                    known = (here, mode is not None and stat.S_ISDIR(mode))
            self._real[folder] = known
        return known


def _conflict(existing: list[str], layout: SiteLayout, label: str) -> UnsafeWheel:
    owners = _owners(existing, layout)
    described = ", ".join(
        str(path) + (f" (installed by {owners[path]})" if path in owners else "") for path in existing[:5]
    )
    more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
    return UnsafeWheel(
        f"{label}: refusing to overwrite existing files with different contents: {described}{more}",
        hint="uninstall the package that owns them first",
    )


def _owners(paths: list[str], layout: SiteLayout) -> dict[str, str]:
    """Which installed distribution lists each path in its RECORD (scans only on conflict)."""
    wanted = {os.path.normpath(path): path for path in paths}
    owners: dict[str, str] = {}
    for dist_info in sorted(layout.site_packages.glob("*.dist-info")):
        for listed in record_paths(dist_info / "RECORD"):
            found = wanted.get(os.path.normpath(os.path.join(layout.site_packages, listed)))
            if found is not None and found not in owners:
                owners[found] = _describe(dist_info)
        if len(owners) == len(wanted):
            break
    return owners


def _describe(dist_info: Path) -> str:
    name, _, version = dist_info.name.removesuffix(".dist-info").rpartition("-")
    return f"{name} {version}" if name else dist_info.name

