"""Which files of a project one interpreter can install, per version: the resolver's view of an index page.

Kept apart from the resolver because it is about files, not about choosing versions: wheel
tags, Requires-Python, hash-checking mode, sdists where no wheel fits (and which wheel can
describe such an sdist without building it), and the words for why nothing fits.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidSdistFilename, NormalizedName, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from envsync.errors import HashMismatch
from envsync.files.hashes import sha256_of_file
from envsync.model import Artifact, Interpreter
from envsync.resolve.index import IndexClient
from envsync.resolve.tags import UNSUPPORTED, WheelRanker


class Offer(NamedTuple):
    """A version's best file for this interpreter: its tag rank (lower is better), the file, and
    whether the index marks it yanked."""

    rank: int
    artifact: Artifact
    yanked: bool


@dataclass(frozen=True)
class Installable:
    """What a project offers this interpreter: per version its best file (an Offer), and why nothing if so."""

    versions: dict[Version, Offer]
    why_none: str


class ProjectFiles:
    """A project's files as one interpreter sees them, each project read once.

    `sdists` says whether an sdist may stand where no wheel fits (False for build envs,
    which install wheels only). With `hashes` (hash-checking mode) only files whose sha256
    is listed for their package count.
    """

    def __init__(self, index: IndexClient, interpreter: Interpreter, *, sdists: bool,
                 hashes: Mapping[str, tuple[frozenset[str], str]] | None = None) -> None:
        self.index = index
        self.interpreter = interpreter
        self.sdists = sdists
        self.hashes = hashes
        self.python = Version(interpreter.markers["python_full_version"].rstrip("+"))
        self.rank = WheelRanker(interpreter.tags).rank
        self._memo: dict[NormalizedName, Installable] = {}
        self._stand_ins: dict[str, Artifact] = {}  # sdist URL -> a wheel of its version, for its metadata
        self._versions: dict[str, Version | None] = {}  # version strings from file names, parsed once
        self._python_memo: dict[str, bool] = {}  # Requires-Python strings, evaluated once

    def installable(self, name: NormalizedName) -> Installable:
        """Per version, the best wheel for this interpreter (else its sdist); parsed once per project."""
        memo = self._memo.get(name)
        if memo is not None:
            return memo
        artifacts = self._allowed_by_hash(name, self.index.artifacts(name))
        best: dict[Version, Offer] = {}
        rejected: set[str] = set()
        sdists: dict[Version, Artifact] = {}
        # Reasons are gathered as flags and worded once after the loop: a big project has thousands of files.
        sdist_only = unsupported = False
        elsewhere: list[Artifact] = []  # wheels for other platforms or Pythons
        excluded_by: set[str] = set()  # Requires-Python values that exclude this interpreter
        rank_of, wheel_version, python_ok = self.rank, self.wheel_version, self.python_ok
        for artifact in artifacts:
            filename = artifact.filename
            if not filename.endswith(".whl"):
                version = self._sdist_version(filename) if self.sdists else None
                if version is None:
                    sdist_only = True
                elif not python_ok(artifact):
                    excluded_by.add(artifact.requires_python or "")
                else:
                    sdists.setdefault(version, artifact)
                continue
            rank = rank_of(filename)
            if rank == UNSUPPORTED:
                unsupported = True
                elsewhere.append(artifact)
                continue
            version = wheel_version(filename)
            if version is None:
                continue
            if not python_ok(artifact):
                excluded_by.add(artifact.requires_python or "")
            elif version not in best or rank < best[version].rank:
                best[version] = Offer(rank, artifact, artifact.yanked)
        if sdist_only:
            rejected.add("only a source distribution, and build requirements are installed from wheels only")
        if unsupported:
            rejected.add(f"no wheel for this interpreter ({self.interpreter.tags[0]})")
        for requires_python in excluded_by:
            rejected.add(f"Requires-Python {requires_python} excludes Python {self.python}")
        for version, artifact in sdists.items():  # wheels stay preferred: an sdist only where no wheel fits
            if version not in best:
                best[version] = Offer(UNSUPPORTED, artifact, artifact.yanked)
        if elsewhere and any(rank == UNSUPPORTED for rank, _, _ in best.values()):
            self._describe_sdists_by_wheels(best, elsewhere)
        why = "no such package on the configured indexes" if not artifacts else "; ".join(sorted(rejected))
        memo = self._memo[name] = Installable(best, why)
        return memo

    def stand_in(self, sdist: Artifact) -> Artifact | None:
        """A wheel of the sdist's version whose METADATA describes the sdist, if there is one."""
        return self._stand_ins.get(sdist.url)

    def _describe_sdists_by_wheels(self, best: dict[Version, Offer],
                                   elsewhere: list[Artifact]) -> None:
        """Let a wheel of the same version (built for another platform or Python) stand in for an
        sdist's metadata: the index serves a wheel's METADATA without building anything, and a
        release's files declare the same dependencies (markers say where they differ). Locking
        for a platform with no wheel then needs no build on this machine."""
        wanted = {version: artifact for version, (rank, artifact, _) in best.items() if rank == UNSUPPORTED}
        for wheel in elsewhere:
            version = self.wheel_version(wheel.filename)
            sdist = wanted.pop(version, None) if version is not None else None
            if sdist is not None:
                self._stand_ins[sdist.url] = wheel

    def allows(self, name: NormalizedName, artifact: Artifact) -> bool:
        """Whether hash-checking mode (if on) lets `artifact` be installed as `name`."""
        return self.hashes is None or sha256_of_artifact(artifact) in self.hashes.get(name, (frozenset(),))[0]

    def _allowed_by_hash(self, name: NormalizedName, artifacts: list[Artifact]) -> list[Artifact]:
        """In hash-checking mode, the files whose sha256 the requirements files allow; an error if none."""
        if self.hashes is None or not artifacts:
            return artifacts
        if name not in self.hashes:
            raise HashMismatch(f"{name} has no --hash in this env's requirements or constraints files, but they "
                               "require a hash for every package installed (hash-checking mode)",
                               f"add a line `{name}==VERSION --hash=sha256:...` (pip-compile --generate-hashes "
                               "lists every package)")
        allowed, where = self.hashes[name]
        kept = [artifact for artifact in artifacts if sha256_of_artifact(artifact) in allowed]
        if not kept:
            raise HashMismatch(f"{name}: no file on {self.index.describe()} has a sha256 allowed by the --hash "
                               f"values at {where}",
                               "the files differ from those the hashes were made for: check the hashes "
                               "(a tampered or re-uploaded file is refused)")
        return kept

    def _sdist_version(self, filename: str) -> Version | None:
        """An sdist's version from its name, each version string parsed once."""
        text = filename.removesuffix(".tar.gz").removesuffix(".zip").rpartition("-")[2]
        if text not in self._versions:
            try:
                self._versions[text] = parse_sdist_filename(filename)[1]
            except (InvalidSdistFilename, InvalidVersion):
                self._versions[text] = None
        return self._versions[text]

    def wheel_version(self, filename: str) -> Version | None:
        """A wheel's version, read from its name: a big project lists thousands of wheels and a few
        hundred versions, so each version string is parsed once, tags not at all."""
        parts = filename.split("-")
        if len(parts) not in (5, 6):  # name-version[-build]-python-abi-platform.whl
            return None
        text = parts[1]
        if text not in self._versions:
            try:
                self._versions[text] = Version(text)
            except InvalidVersion:
                self._versions[text] = None
        return self._versions[text]

    def python_ok(self, artifact: Artifact) -> bool:
        """Whether the file's Requires-Python admits this interpreter (a broken one is ignored, as pip does)."""
        text = artifact.requires_python
        if not text:
            return True
        known = self._python_memo.get(text)
        if known is None:
            try:
                known = SpecifierSet(text).contains(self.python, prereleases=True)
            except InvalidSpecifier:
                known = True
            self._python_memo[text] = known
        return known


def sha256_of_artifact(artifact: Artifact) -> str | None:
    """An artifact's sha256: from the index, or computed for a local find-links file."""
    if artifact.sha256 or not artifact.url.startswith("file:"):
        return artifact.sha256
    try:
        return sha256_of_file(urllib.parse.unquote(urllib.parse.urlsplit(artifact.url).path))
    except OSError:
        return None
