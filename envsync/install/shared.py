"""Files that more than one installed package lists in its RECORD.

Wheels of one family ship identical files: every nvidia-*-cu12 wheel has the same empty
`nvidia/__init__.py`, opencv-python and opencv-python-headless the same `cv2/` tree. Such
a file is installed once and listed by each package, so it may only go with the last
package that lists it. This index says, per file, which dist-infos list it; it is read
from the RECORDs once, when first asked, and kept current by the installs and removals
that share it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from envsync.files.hashes import matches_record_digest
from envsync.files.metadata import record_rows
from envsync.install.layout import SiteLayout


class SharedFiles:
    """Which dist-infos (absolute paths) list each file (absolute, normalised) of one venv."""

    def __init__(self, layout: SiteLayout) -> None:
        self._layout = layout
        self._owners: dict[str, set[str]] | None = None
        self._listed: dict[str, list[str]] = {}  # dist-info -> the files its RECORD lists

    def _index(self) -> dict[str, set[str]]:
        if self._owners is None:
            self._owners = {}
            site = str(self._layout.site_packages)
            try:
                folders = [entry.path for entry in os.scandir(site)
                           if entry.name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False)]
            except OSError:
                folders = []
            for folder in folders:
                self._add(folder, [row[0] for row in record_rows(Path(folder) / "RECORD")])
        return self._owners

    def _add(self, dist_info: str, listed: Iterable[str]) -> None:
        assert self._owners is not None
        site = str(self._layout.site_packages)
        paths = [os.path.normpath(os.path.join(site, path)) for path in listed]
        self._listed[dist_info] = paths
        for path in paths:
            self._owners.setdefault(path, set()).add(dist_info)

    def kept(self, path: str, leaving: Iterable[str]) -> bool:
        """Whether a dist-info other than those `leaving` lists `path`: it must stay."""
        owners = self._index().get(os.path.normpath(path), set())
        return bool(owners - set(leaving))

    def listed_by(self, dist_infos: Iterable[str]) -> frozenset[str]:
        """Every file the given dist-infos list."""
        self._index()  # loads _listed
        return frozenset(path for folder in dist_infos for path in self._listed.get(folder, ()))

    def installed(self, dist_info: str, listed: Iterable[str]) -> None:
        """A dist-info was written (or rewritten) with these RECORD paths."""
        if self._owners is None:
            return  # not read yet: it will be read from disk when first asked
        self.removed(dist_info)
        self._add(dist_info, listed)

    def removed(self, dist_info: str) -> None:
        """A dist-info is gone."""
        if self._owners is None:
            return
        for path in self._listed.pop(dist_info, []):
            owners = self._owners.get(path)
            if owners is not None:
                owners.discard(dist_info)
                if not owners:
                    del self._owners[path]


def same_content(path: str, record_hash: str) -> bool:
    """Whether the regular file at `path` has the `algo=urlsafe-b64` digest of a RECORD row."""
    return not os.path.islink(path) and matches_record_digest(path, record_hash) is True
