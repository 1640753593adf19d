"""PEP 751 lock files, one per env: build, write (tomli-w), read, and tell fresh from stale.

A lock records a digest of the inputs it was made from (requirements, interpreter,
index settings) under [tool.envsync], so "is it stale?" is answered by hashing the
config, without resolving. Built and validated with packaging.pylock, so what we
write is what other PEP 751 installers read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import Marker
from packaging.pylock import Pylock
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from envsync.errors import LockError, from_os_error
from envsync.files.cache import write_atomic
from envsync.files.read_once import ReadOnce
from envsync.model import FIRST_INDEX, EnvSpec, IndexSettings, Interpreter, LockWrite, Pin
from envsync.resolve.tags import WheelRanker
from envsync.resolve.urls import origin, redact, strip_credentials
from envsync.sources.base import shown as redacted
from envsync.sources.index_file import location, locked_file, sha256_of

if TYPE_CHECKING:
    from typing import Any

    from packaging.pylock import Package, PackageWheel
    from packaging.specifiers import SpecifierSet

    from envsync.resolve.platforms import Platform, Target
    from envsync.sources import DirectDist
    from envsync.sources.base import Source

LOCK_VERSION = "1.0"
DIGEST_SCHEME = 1  # bump when the digest's inputs change, so old locks read as stale


def environment_marker(interpreter: Interpreter) -> str:
    """Where a lock made for `interpreter` is valid: same implementation, minor version, OS, CPU."""
    m = interpreter.markers
    return (f"implementation_name == '{m['implementation_name']}' and python_version == '{m['python_version']}'"
            f" and sys_platform == '{m['sys_platform']}' and platform_machine == '{m['platform_machine']}'")


def _environment_input(spec: EnvSpec, interpreter: Interpreter) -> object:
    """Where the lock is valid, for the digest: this machine's platform, or the declared
    environments with the Python version (the same on every platform they name)."""
    if not spec.environments:
        return environment_marker(interpreter)
    from envsync.resolve.platforms import GLIBC_MINOR, MACOS

    return {"environments": list(spec.environments),
            "python": f"{interpreter.implementation} {interpreter.short_version}",
            "oldest-systems": [f"glibc 2.{GLIBC_MINOR}", f"macOS {MACOS[0]}.{MACOS[1]}"]}


def input_digest(spec: EnvSpec, interpreter: Interpreter, config_dir: Path,
                 local: Mapping[NormalizedName, DirectDist] | None = None) -> str:
    """A digest of everything a resolve for `spec` depends on, the same on every machine and commit.

    `local` holds the env's project and local folder references (sources.DirectDist): their
    dependencies and entry points count, so editing pyproject.toml re-resolves; a version the
    source judges by itself (an editable project's, derived from git) does not, or every commit
    would make the lock stale. URLs enter without credentials (a CI token that rotates changes
    nothing) and paths relative to the config's folder, so a clone elsewhere has the same digest;
    requirements files enter as what they say (their parsed requirements and options, which are
    in the env's requirements, constraints, hashes and index settings), not as their bytes."""
    index = spec.index
    inputs = {
        "scheme": DIGEST_SCHEME,
        "requirements": sorted(portable(redacted(r), config_dir) for r in spec.requirements),
        "python": spec.python,
        "environment": _environment_input(spec, interpreter),
        # As written in the config: a CI mirror set through ENVSYNC_INDEX_URL serves the same
        # packages, so it must not make a committed lock stale under --locked.
        "index-url": redact(index.configured[0] if index.configured else (index.index_url or "")),
        "extra-index-urls": [redact(url) for url in (index.configured[1:] if index.configured
                                                     else index.extra_index_urls)],
        "find-links": [os.path.relpath(link, config_dir) for link in index.find_links],
        "prereleases": index.prereleases,
    }
    # Only when used, so locks of envs without requirements files keep their digest.
    if spec.files:
        inputs["files"] = sorted(file for file, _ in spec.files)
    if spec.constraints:
        inputs["constraints"] = sorted(portable(str(c), config_dir) for c in spec.constraints)
    if spec.hashes is not None:
        inputs["hashes"] = [[name, sorted(allowed)] for name, allowed, _ in spec.hashes]
    declared = [[os.path.relpath(project.path, config_dir), project.editable, sorted(project.extras)]
                for project in spec.projects]
    if len(declared) == 1:  # one project: the key locks written before `projects` existed hold
        inputs["project"] = declared[0]
    elif declared:
        inputs["projects"] = declared
    if local:
        inputs["local"] = {name: _relative_entry(dist.digest_entry(), config_dir)
                           for name, dist in sorted(local.items())}
    if spec.seed:
        inputs["seed"] = sorted(spec.seed)
    inputs.update(_index_choice(index))
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _relative_entry(entry: list[Any], config_dir: Path) -> list[Any]:
    """A digest entry with its file:// URL made relative, so the digest is the same on every machine."""
    url = entry[2]
    if isinstance(url, str) and url.startswith("file:"):
        local = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
        entry = [*entry[:2], os.path.relpath(local, config_dir), *entry[3:]]
    return entry


_FILE_URL = re.compile(r"file://[^\s,;)]*")  # a URL's own ( ) are %-escaped


def portable(text: str, folder: Path) -> str:
    """A requirement's text with each file:// URL written as a path relative to `folder` (the
    lock's), so neither a lock nor its digest names where this checkout happens to be:
    `demo @ file:///home/me/demo` -> `demo @ .`, `gamma @ file:///home/me/demo/w/g.whl` -> `gamma @ w/g.whl`."""
    def relative(match: re.Match[str]) -> str:
        url, hash_mark, fragment = match.group(0).partition("#")
        local = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
        return urllib.parse.quote(Path(os.path.relpath(local, folder)).as_posix()) + hash_mark + fragment

    return _FILE_URL.sub(relative, text)


def _index_choice(index: IndexSettings) -> dict[str, object]:
    """Which index a name may come from, as the config wrote it, for the input digest.

    Left out when it can't matter (one index, the default strategy, no pins), so that
    such a lock keeps its digest; with extra indexes, the strategy always counts.
    """
    choice: dict[str, object] = {}
    extras = index.configured[1:] if index.configured else index.extra_index_urls
    if extras or index.added_by_files or index.strategy != FIRST_INDEX:
        choice["index-strategy"] = index.strategy
    if index.index_for:
        written = index.configured or (index.index_url or "", *index.extra_index_urls)
        choice["index-for"] = {name: redact(written[position]) if position < len(written) else position
                               for name, position in index.index_for}
    return choice


@dataclass(frozen=True)
class LockFile:
    """A lock as read from disk: its packages and the inputs digest it was made from."""

    path: Path
    document: Pylock
    digest: str | None  # None for a lock another tool wrote
    # A lock made for several platforms: the platforms it was resolved for (their markers).
    platforms: tuple[Marker, ...] = ()

    def is_fresh(self, digest: str, interpreter: Interpreter) -> bool:
        return self.digest == digest and self.valid_for(interpreter)

    def valid_for(self, interpreter: Interpreter) -> bool:
        """Whether the lock serves `interpreter`: one of its environments holds there and, for a
        lock made for several platforms, its platform is one the lock was resolved for."""
        environments = self.document.environments
        if environments and not any(_holds(marker, interpreter.markers, self.path) for marker in environments):
            return False
        return not self.platforms or any(_holds(marker, interpreter.markers, self.path) for marker in self.platforms)

    def versions(self) -> dict[NormalizedName, Version]:
        return {pkg.name: pkg.version for pkg in self.document.packages if pkg.version is not None}


def read_lock(path: Path) -> LockFile | None:
    """The lock at `path`, or None if there is none; an invalid lock is a LockError.
    A plan reads each lock twice (its env's state, and the list of locks beside the config):
    it is parsed once (files/read_once.py)."""
    return _LOCKS.read(str(path), lambda: _parse_lock(path))


_LOCKS: ReadOnce[LockFile] = ReadOnce()


def lock_text(path: Path) -> str | None:
    """The lock file's text today, None when there is none (or it can't be read: writing it reports that)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _parse_lock(path: Path) -> LockFile | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise LockError(f"{path.name}: not a valid PEP 751 lock file: it is not UTF-8 text",
                        "delete it and run `envsync lock` to write a new one") from None
    except OSError as exc:
        raise LockError(f"{path.name}: cannot read: {exc}") from None
    return lock_from_text(path, text)


def lock_from_text(path: Path, text: str) -> LockFile:
    """The lock whose TOML is `text` (read from `path`, or about to be written there); an invalid
    one is a LockError. The parsed TOML comes from the cache when this text was read before."""
    from packaging.pylock import Pylock, PylockUnsupportedVersionError, PylockValidationError

    from envsync.files.parsed_toml import load_toml

    try:
        document = Pylock.from_dict(load_toml(text))
    except (ValueError, PylockValidationError, PylockUnsupportedVersionError, RecursionError) as exc:
        reason = "values nested too deeply" if isinstance(exc, RecursionError) else exc
        raise LockError(f"{path.name}: not a valid PEP 751 lock file: {reason}",
                        "delete it and run `envsync lock` to write a new one") from None
    return _lock_from_document(path, document)


def _lock_from_document(path: Path, document: Pylock) -> LockFile:
    """A LockFile for a parsed document: the digest and platforms envsync keeps under [tool.envsync]."""
    from packaging.markers import InvalidMarker

    tool = (document.tool or {}).get("envsync", {})
    digest = tool.get("inputs") if isinstance(tool, Mapping) else None
    written = tool.get("platforms") if isinstance(tool, Mapping) else None
    platforms: tuple[Marker, ...] = ()
    if written is not None:
        try:
            if not isinstance(written, list) or not all(isinstance(text, str) for text in written):
                raise InvalidMarker("[tool.envsync] platforms is not a list of markers")
            platforms = tuple(Marker(text) for text in written)
        except InvalidMarker as exc:
            raise LockError(f"{path.name}: not a valid PEP 751 lock file: {exc}",
                            "delete it and run `envsync lock` to write a new one") from None
    return LockFile(path=path, document=document, digest=digest, platforms=platforms)


def pins_from_lock(lock: LockFile, interpreter: Interpreter, local: Mapping[NormalizedName, DirectDist] | None = None,
                   *, strict: bool = True) -> dict[NormalizedName, Pin]:
    """The pins a lock gives `interpreter`: per package whose marker holds here, its best wheel for
    the interpreter's tags, else its sdist (built when installed). A local folder's pin comes from
    `local` (its metadata read now) where given: PEP 751 records a source tree without a version.
    Not `strict`, a source tree that `local` does not hold is left out rather than refused."""
    from envsync.sources import source_from_lock

    ranker = WheelRanker(interpreter.tags)
    pins: dict[NormalizedName, Pin] = {}
    for package in lock.document.packages:
        if package.marker is not None and not _holds(package.marker, interpreter.markers, lock.path):
            continue
        if package.name in pins:
            raise LockError(f"{lock.path.name}: package {package.name} is listed more than once for this platform "
                            f"({pins[package.name].version} and {package.version}), and their markers don't tell "
                            "which one applies", "re-lock with `envsync lock`")
        dependencies = tuple(sorted(canonicalize_name(d["name"]) for d in package.dependencies or () if "name" in d))
        source = source_from_lock(package, lock.path)
        if source is not None:
            pin = _direct_pin(lock, package, source, dependencies, local or {}, strict)
            if pin is not None:
                pins[package.name] = pin
            continue
        if package.version is None or not (package.wheels or package.sdist):
            raise LockError(f"{lock.path.name}: package {package.name} has no wheel to install from",
                            "envsync installs locked packages from wheels only; re-lock with `envsync lock`")
        for candidate in package.wheels or ():
            _check_wheel_name(lock.path, package.name, candidate)
        wheel = ranker.best((wheel.filename, wheel) for wheel in package.wheels or ())
        if wheel is None and package.sdist is None:
            raise LockError(f"{lock.path.name}: package {package.name} {package.version} has no wheel for "
                            f"this interpreter ({interpreter.tags[0]})", "re-lock on this machine: `envsync lock`")
        chosen = wheel if wheel is not None else package.sdist
        assert chosen is not None  # a package with neither was refused above
        artifact = replace(locked_file(lock.path, chosen),
                           index=package.index, requires_python=str(package.requires_python)
                           if package.requires_python is not None else None)
        pins[package.name] = Pin(name=package.name, version=package.version, artifact=artifact,
                                 dependencies=dependencies, reasons=_reasons(package), requires=_requires(package))
    return dict(sorted(pins.items()))


def _direct_pin(lock: LockFile, package: Package, source: Source, dependencies: tuple[NormalizedName, ...],
                local: Mapping[NormalizedName, DirectDist], strict: bool) -> Pin | None:
    """The pin of a locked directory, vcs or archive package (PEP 751). A package without a version
    (a source tree, as PEP 751 writes it) takes the version its folder's metadata has now."""
    version = package.version
    read = local.get(package.name)
    if read is not None and read.source.url == source.url:
        version, source = read.version, read.source
    if version is None and not strict:
        return None
    if version is None:
        raise LockError(f"{lock.path.name}: package {package.name} has no version, and its folder "
                        f"{source.url} is not one of the env's own projects",
                        "add it to the env (`project = ...` or `name @ path`), or re-lock with `envsync lock`")
    return Pin(name=package.name, version=version, artifact=source.file(), dependencies=dependencies,
               reasons=_reasons(package), source=source)


def check_hashes(spec: EnvSpec, lock: LockFile, pins: dict[NormalizedName, Pin]) -> dict[NormalizedName, Pin]:
    """`pins`, once each is proven to carry a sha256 the env's --hash values allow (hash-checking mode)."""
    if spec.hashes is None:
        return pins
    allowed = {name: (hashes, where) for name, hashes, where in spec.hashes}
    from envsync.errors import HashMismatch

    for name, pin in pins.items():
        hashes, where = allowed.get(name, (frozenset(), "none of the env's requirements files"))
        if pin.artifact is None or pin.artifact.sha256 not in hashes:
            shown = pin.artifact.filename if pin.artifact else pin.source.url if pin.source else name
            raise HashMismatch(f"{lock.path.name}: {name} {pin.version} ({shown}) has a sha256 "
                               f"that the --hash values at {where} do not allow",
                               f"re-lock with `envsync lock {spec.name}`, or fix the hashes")
    return pins


def _reasons(package: Package) -> tuple[tuple[str, str], ...]:
    """The (who, requirement) pairs envsync keeps under the package's [tool.envsync], if any."""
    tool = (package.tool or {}).get("envsync")
    required_by = tool.get("required-by") if isinstance(tool, Mapping) else None
    if not isinstance(required_by, Mapping):
        return ()
    return tuple(sorted((str(who), str(text)) for who, text in required_by.items()))


def _requires(package: Package) -> tuple[str, ...] | None:
    """The Requires-Dist lines envsync recorded for the package's file, or None if it recorded none
    (an older lock, another tool's, or something that is not a list of strings)."""
    tool = (package.tool or {}).get("envsync")
    requires = tool.get("requires") if isinstance(tool, Mapping) else None
    if not isinstance(requires, list) or not all(isinstance(line, str) for line in requires):
        return None
    return tuple(requires)


def _holds(marker: Marker, environment: Mapping[str, str], path: Path) -> bool:
    """Evaluate a marker from a lock; one that can't be evaluated is a LockError, not a traceback."""
    from envsync.resolve.markers import marker_holds

    def error(exc: Exception) -> LockError:
        return LockError(f"{path.name}: marker {str(marker)!r} cannot be evaluated here: {exc}",
                         "fix or remove that marker, or re-lock with `envsync lock`")

    return marker_holds(marker, environment, if_unevaluable=error)


def _check_wheel_name(lock_path: Path, package: str, wheel: PackageWheel) -> None:
    """A locked wheel's file name must be a wheel's name and one plain path component.

    It names the file in the download cache, so a lock saying `../x.whl` is refused here.
    """
    from packaging.pylock import PylockValidationError
    from packaging.utils import InvalidWheelFilename

    from envsync.resolve.pages import safe_filename  # the index page parser: not needed to read a lock

    try:
        filename = wheel.filename
        if not safe_filename(filename):
            raise InvalidWheelFilename("it is not a plain file name")
        parse_wheel_filename(filename)
    except (PylockValidationError, InvalidWheelFilename) as exc:
        shown = getattr(wheel, "name", None) or getattr(wheel, "url", None) or getattr(wheel, "path", None)
        raise LockError(f"{lock_path.name}: package {package} has a wheel {shown!r} that is not a valid wheel file name: {exc}",
                        "the lock is damaged or was edited by hand; delete it and run `envsync lock`") from None


def write_lock(lock: LockWrite) -> None:
    """Write a planned lock file in one rename, so a reader never sees half of it."""
    try:
        write_atomic(lock.path, lock.text.encode())
    except OSError as exc:
        raise from_os_error(exc, lock.path) from exc


def render_lock(spec: EnvSpec, interpreter: Interpreter, pins: Mapping[NormalizedName, Pin],
                digest: str, config_dir: Path, previous: str | None = None) -> str:
    """The lock file's text: stable for the same inputs and pins (no timestamps); `previous`, the
    file's text today, when it already says exactly this."""
    packages = [_package(pin, spec, config_dir, _files(pin, config_dir)) for pin in pins.values()]
    return _document(spec, interpreter, packages, digest, [environment_marker(interpreter)], previous=previous)


def render_platform_lock(spec: EnvSpec, interpreter: Interpreter,
                         resolved: Sequence[tuple[Target, Mapping[NormalizedName, Pin]]],
                         digest: str, config_dir: Path, previous: str | None = None) -> str:
    """One lock for every platform in `resolved` (each with the pins resolved for it); `previous`
    as for render_lock.

    A version that several platforms chose is one package carrying each platform's wheel (and the
    sdist where a platform builds from it); a package only some platforms need, or a version only
    some chose, carries a marker naming them: their declared environment when all of its
    platforms share it, else each platform's own marker. A dependency on a package the lock holds
    in several versions names the version (or versions) the dependent's platforms chose.
    """
    from packaging.pylock import PackageSdist, PackageWheel

    every = [target for target, _ in resolved]
    uses: dict[tuple[NormalizedName, Version], list[tuple[Target, Pin]]] = {}
    for target, pins in resolved:
        for pin in pins.values():
            uses.setdefault((pin.name, pin.version), []).append((target, pin))
    versions: dict[NormalizedName, int] = {}
    for name, _ in uses:
        versions[name] = versions.get(name, 0) + 1
    packages = []
    for _, chosen in sorted(uses.items(), key=lambda item: item[0]):
        first = chosen[0][1]
        pin = replace(first, dependencies=tuple(sorted({d for _, p in chosen for d in p.dependencies})),
                      reasons=tuple(sorted({who: text for _, p in reversed(chosen) for who, text in p.reasons}.items())))
        if first.source is not None or first.artifact is None:
            files = _files(first, config_dir)
        else:
            artifacts = list({p.artifact.filename: p.artifact for _, p in chosen if p.artifact}.values())
            wheels = [PackageWheel(name=a.filename, **location(a, config_dir), size=a.size,
                                   hashes={"sha256": sha256_of(a)}) for a in artifacts if a.filename.endswith(".whl")]
            sdists = [a for a in artifacts if not a.filename.endswith(".whl")]
            files = {"wheels": wheels} if wheels else {}
            if sdists:
                files["sdist"] = PackageSdist(name=sdists[0].filename, **location(sdists[0], config_dir),
                                              size=sdists[0].size, hashes={"sha256": sha256_of(sdists[0])})
        dependencies: list[dict[str, str]] = []
        for dependency in pin.dependencies:
            if versions.get(dependency, 0) < 2:
                dependencies.append({"name": str(dependency)})
                continue
            picked = sorted({pins[dependency].version for target, _ in chosen
                             for t, pins in resolved if t is target and dependency in pins})
            dependencies += [{"name": dependency, "version": str(version)} for version in picked]
        marker = _platforms_marker({target.platform for target, _ in chosen}, every)
        packages.append(_package(pin, spec, config_dir, files, marker, dependencies))
    return _document(spec, interpreter, packages, digest, list(spec.environments),
                     platforms=[target.platform.marker for target in every], previous=previous)


def _platforms_marker(used: set[Platform], every: Sequence[Target]) -> Marker | None:
    """The marker of a package that `used` platforms need, out of `every` one the lock serves."""
    if all(target.platform in used for target in every):
        return None
    terms: list[str] = []
    for environment in dict.fromkeys(target.environment for target in every):
        its = [target.platform for target in every if target.environment == environment]
        if all(platform in used for platform in its):
            terms.append(environment)
        else:
            terms += [platform.marker for platform in its if platform in used]
    return Marker(terms[0] if len(terms) == 1 else " or ".join(f"({term})" for term in terms))


def _package(pin: Pin, spec: EnvSpec, config_dir: Path, files: dict[str, object], marker: Marker | None = None,
             dependencies: list[dict[str, str]] | None = None) -> Package:
    """One [[packages]] entry: the pin, where it installs from, and what envsync keeps for itself."""
    from packaging.pylock import Package
    from packaging.specifiers import SpecifierSet

    from envsync.sources import source_of

    source = source_of(pin)
    # For `envsync tree`; a local path relative to the lock's folder, as PEP 751's own paths are.
    reasons = {who: portable(text, config_dir) for who, text in pin.reasons}
    tool: dict[str, object] = {"required-by": reasons} if reasons else {}
    tool.update(source.tool_entry())
    if pin.requires is not None and pin.source is None:
        tool["requires"] = list(pin.requires)  # lets a re-lock keep the pin without fetching its metadata
    requires_python = pin.artifact.requires_python if pin.artifact is not None and pin.source is None else None
    if dependencies is None:
        dependencies = [{"name": dep} for dep in pin.dependencies]
    return Package(
        name=pin.name,
        version=pin.version if source.locks_version() else None,
        marker=marker,
        requires_python=_specifier(requires_python, SpecifierSet),
        index=_index_of(pin, spec),
        dependencies=dependencies or None,
        **files,  # type: ignore[arg-type]  # wheels= and/or sdist=, or one of vcs=, directory=, archive=
        tool={"envsync": tool} if tool else None,
    )


def _specifier(text: str | None, kind: type[SpecifierSet]) -> SpecifierSet | None:
    """A Requires-Python as a SpecifierSet, or None when absent or not valid (an index's broken value)."""
    from packaging.specifiers import InvalidSpecifier

    try:
        return kind(text) if text else None
    except InvalidSpecifier:
        return None


def _document(spec: EnvSpec, interpreter: Interpreter, packages: list[Package], digest: str, environments: list[str],
              platforms: list[str] | None = None, previous: str | None = None) -> str:
    """The lock's TOML text, validated. Its parsed form is kept in the cache on the way
    (files/parsed_toml.py), so reading this text back, now or at the next apply, needs no parser.
    `previous` is the lock file's text today: when it holds this very lock, it is the answer, and
    nothing is written out again (an upgrade that changes nothing: 25 ms for 162 packages)."""
    import tomli_w
    from packaging.pylock import Pylock
    from packaging.specifiers import SpecifierSet

    from envsync import __version__
    from envsync.files.parsed_toml import keep_parsed, kept_document
    from envsync.resolve.lock_toml import lock_table

    tool: dict[str, object] = {"inputs": digest, "version": __version__, "env": spec.name}
    if spec.solve_group:
        tool["solve-group"] = spec.solve_group
    if platforms:
        tool["platforms"] = platforms
    document = Pylock(
        lock_version=Version(LOCK_VERSION),
        environments=[Marker(text) for text in environments],
        requires_python=SpecifierSet(lock_python(interpreter, packages)),
        created_by="envsync",
        packages=packages,
        tool={"envsync": tool},
    )
    data = lock_table(document)
    Pylock.from_dict(data)  # what document.validate() does, without converting the document twice
    if previous is not None and kept_document(previous) == data:
        return previous
    text = tomli_w.dumps(data)
    keep_parsed(text, data)
    return text


def lock_python(interpreter: Interpreter, packages: list[Package]) -> str:
    """The lock's `requires-python`: the interpreter's minor version, narrowed by every package's
    Requires-Python that excludes some of its patch releases (a package needing 3.9.2 makes a lock
    made on 3.9.7 say so, rather than claim all of 3.9)."""
    minor = f"{interpreter.version.major}.{interpreter.version.minor}"
    kept: dict[str, None] = {f"=={minor}.*": None}
    patches = [Version(f"{minor}.{patch}") for patch in range(0, 100)]
    judged: set[str] = set()  # a big lock's 160 packages share a dozen clauses (">=3.9"): each is tried once
    for package in packages:
        for item in package.requires_python or ():
            clause = str(item)
            if clause not in judged:
                judged.add(clause)
                if not all(item.contains(version, prereleases=True) for version in patches):
                    kept[clause] = None
    return ",".join(kept)


def _files(pin: Pin, config_dir: Path) -> dict[str, object]:
    """Where a package installs from, as PEP 751 names it: its source kind says."""
    from envsync.sources import source_of

    return source_of(pin).lock_entry(pin, config_dir)


def _index_of(pin: Pin, spec: EnvSpec) -> str | None:
    """The index a file came from: the page that listed it (its files may live on another host, as
    PyPI's do), else a configured index on the file's own origin. Never with credentials."""
    artifact = pin.artifact
    if pin.source is not None or artifact is None:
        return None
    if artifact.index:
        return strip_credentials(artifact.index)
    for base in (spec.index.index_url, *spec.index.extra_index_urls):
        if base and not base.startswith("file:") and origin(base) == origin(artifact.url):
            return strip_credentials(base)
    return None
