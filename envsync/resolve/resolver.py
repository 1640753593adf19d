"""Choose one version of every package an env needs, for that env's own interpreter.

The resolvelib algorithm knows nothing about packages; `Provider` answers its
questions from the index: which versions exist (the installable files per version
come from `files.ProjectFiles`; yanked and pre-release rules are applied here), and what each one depends on
(its metadata, markers evaluated for the target interpreter). `resolve` takes a
list of root requirements, so several envs' roots can be resolved together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import httpx
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    NormalizedName,
    canonicalize_name,
)
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from envsync.errors import ConfigError, EnvsyncError, ResolutionConflict
from envsync.files.metadata import multiple_use_field, valid_requirements
from envsync.model import Artifact, Interpreter, Pin
from envsync.resolve.explain import pinned_exactly
from envsync.resolve.files import Installable, ProjectFiles
from envsync.resolve.index import IndexClient
from envsync.resolve.markers import marker_holds

if TYPE_CHECKING:
    from collections.abc import Iterator

    from resolvelib.resolvers import Result
    from resolvelib.structs import RequirementInformation

    from envsync.sources import DirectDist

ROOT = "<root>"
# What may spoil a look-ahead guess without being a bug: the network, and the errors envsync reports.
LOOKAHEAD_MISSES = (EnvsyncError, httpx.HTTPError, OSError)


@dataclass(frozen=True)
class Candidate:
    """One version of one project (with some extras enabled), installable from `artifact`."""

    name: NormalizedName
    version: Version
    extras: frozenset[str]
    artifact: Artifact | None  # None for a direct source that is no file (a folder, a git commit)

    @property
    def key(self) -> str:
        return identify(self.name, self.extras)


def identify(name: NormalizedName, extras: Iterable[str]) -> str:
    extras = sorted(extras)
    return f"{name}[{','.join(extras)}]" if extras else name


def split_key(key: str) -> tuple[NormalizedName, frozenset[str]]:
    name, _, rest = key.partition("[")
    return NormalizedName(name), frozenset(filter(None, rest.rstrip("]").split(",")))



if TYPE_CHECKING:
    _Provider = AbstractProvider[Requirement, Candidate, str]
else:  # resolvelib before 1.1 has no runtime generics (they were in its stubs)
    _Provider = AbstractProvider


class Provider(_Provider):
    """Answers resolvelib's questions for one target interpreter."""

    def __init__(self, index: IndexClient, interpreter: Interpreter, *, prereleases: bool = False,
                 preferred: Mapping[NormalizedName, Version] | None = None,
                 constraints: Sequence[Requirement] = (),
                 hashes: Mapping[str, tuple[frozenset[str], str]] | None = None,
                 direct: Mapping[NormalizedName, DirectDist] | None = None,
                 sdist_metadata: Callable[[Artifact], bytes] | None = None,
                 origins: Mapping[str, str] | None = None,
                 locked: Mapping[NormalizedName, Pin] | None = None) -> None:
        self.index = index
        # Pins of the env's previous lock that recorded their Requires-Dist: offered first, from the
        # lock's own data, so a re-lock reads no page or metadata for a pin that still fits.
        self.locked = {name: pin for name, pin in (locked or {}).items()
                       if pin.requires is not None and pin.source is None}
        # Packages from a direct source (the project, `name @ URL`): the one candidate for their name.
        self.direct = dict(direct or {})
        # Reads an sdist's metadata (by its build backend); None: wheels only, as for build envs.
        self.sdist_metadata = sdist_metadata
        self.interpreter = interpreter
        self.prereleases = prereleases
        self.preferred = dict(preferred or {})
        # Constraints only narrow the versions of a name something else requires.
        self.constraints: dict[NormalizedName, list[Requirement]] = {}
        for constraint in constraints:
            if _root_applies(constraint, interpreter):
                self.constraints.setdefault(canonicalize_name(constraint.name), []).append(constraint)
        index.serve(interpreter.tags)
        self.files = ProjectFiles(index, interpreter, sdists=sdist_metadata is not None, hashes=hashes)
        self.why_empty: dict[NormalizedName, str] = {}
        # Who asked for each name (a parent candidate, or None for a root), to explain a failure.
        self.needed_by: dict[NormalizedName, list[tuple[Requirement, Candidate | None]]] = {}
        self.origins = dict(origins or {})  # root requirement text -> where the user wrote it
        self.warnings: list[str] = []  # things worth saying that don't stop the resolve (unknown extras)
        self._requires_memo: dict[str, list[Requirement]] = {}
        self._requires_text: dict[str, tuple[str, ...]] = {}  # Requires-Dist lines by file URL, for the lock
        self._order_memo: dict[NormalizedName, list[Version]] = {}
        self._satisfied_memo: dict[tuple[int, Version], tuple[Requirement, bool]] = {}
        self._speculated: set[NormalizedName] = set()
        self._speculation_lock = threading.Lock()
        self.lookahead_failure: BaseException | None = None
        self._speculator = ThreadPoolExecutor(max_workers=8, thread_name_prefix="envsync-speculate")

    def close(self) -> None:
        self._speculator.shutdown(wait=False, cancel_futures=True)

    # -- looking ahead ------------------------------------------------------------------------

    def speculate(self, names: Iterable[NormalizedName]) -> None:
        """Walk the dependency tree ahead of the resolver, in the background.

        For each new name: its page, then its newest installable version's metadata, then the
        same for that version's dependencies. The resolver usually picks those versions, so
        by the time it asks, pages and metadata are already here: network latency is paid
        once per tree level in parallel, instead of once per package in turn.
        """
        with self._speculation_lock:
            # A direct source's name (a local project's) is never asked of an index, not even ahead.
            fresh = [name for name in names
                     if name not in self._speculated and name not in self.locked and name not in self.direct]
            self._speculated.update(fresh)
        for name in fresh:
            self.index.prefetch([name])
            self._speculator.submit(self._speculate_one, name)

    def _speculate_one(self, name: NormalizedName) -> None:
        try:
            installable = self.files.installable(name)
            newest = next((v for v in self._newest_first(name, installable)
                           if not v.is_prerelease and not installable.versions[v].yanked), None)
            if newest is None:
                return
            best = installable.versions[newest].artifact
            if not best.filename.endswith(".whl"):
                return  # an sdist's metadata may take a build: only when the resolver really asks
            requires = self._requirements_of_artifact(best)
            self.speculate(canonicalize_name(r.name) for r in requires if self._applies(r, ""))
        except LOOKAHEAD_MISSES:
            return  # a guess the network or the index spoiled costs nothing; the resolver will ask for real
        except BaseException as exc:  # a bug: kept, and raised in the resolver's own thread
            with self._speculation_lock:
                self.lookahead_failure = self.lookahead_failure or exc
            raise

    def raise_lookahead_failure(self) -> None:
        """Raise what broke a look-ahead thread (a bug in envsync, not the network), where it can't vanish."""
        if self.lookahead_failure is not None:
            raise self.lookahead_failure

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        if isinstance(requirement_or_candidate, Candidate):
            return requirement_or_candidate.key
        return identify(canonicalize_name(requirement_or_candidate.name), requirement_or_candidate.extras)

    def get_preference(self, identifier: str, resolutions: Mapping[str, Candidate],
                       candidates: Mapping[str, Iterator[Candidate]],
                       information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
                       backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]]) -> tuple[bool, bool, str]:
        # Exact pins first (cheap and decisive), then what recently caused backtracking.
        requirements = [info.requirement for info in information[identifier]]
        exact = any(spec.operator in ("==", "===") for req in requirements for spec in req.specifier)
        in_conflict = any(self.identify(cause.requirement) == identifier for cause in backtrack_causes)
        return (not exact, not in_conflict, identifier)

    def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[Requirement]],
                     incompatibilities: Mapping[str, Iterator[Candidate]],
                     ) -> Iterable[Candidate] | Callable[[], Iterable[Candidate]]:
        name, extras = split_key(identifier)
        wanted = list(requirements[identifier])
        excluded = {candidate.version for candidate in incompatibilities[identifier]}
        if name in self.direct:
            return self._direct_candidates(name, extras, wanted, excluded)
        for requirement in wanted:
            if requirement.url:
                raise ResolutionConflict(f"{requirement}: a package's own metadata asks for a direct URL, which "
                                         "envsync (like pip) only takes from your own requirements",
                                         f"add `{requirement}` to the env's dependencies if you trust it")
        pin = self.locked.get(name)
        if pin is not None and self._locked_fits(pin, wanted, excluded):
            return lambda: self._after_locked(pin, name, extras, wanted, excluded)
        return lambda: self._candidates(name, extras, wanted, excluded)

    def _locked_fits(self, pin: Pin, wanted: Sequence[Requirement], excluded: set[Version]) -> bool:
        """Whether the old lock's pin meets every requirement and rule, judged from the lock alone."""
        if pin.version in excluded:
            return False
        requirements = [*wanted, *self.constraints.get(pin.name, ())]
        if pin.version.is_prerelease and not (self.prereleases or any(
                spec.prereleases for req in requirements for spec in req.specifier)):
            return False
        if pin.artifact is None or not self.files.allows(pin.name, pin.artifact):
            return False
        return all(req.specifier.contains(pin.version, prereleases=True) for req in requirements)

    def _after_locked(self, pin: Pin, name: NormalizedName, extras: frozenset[str],
                      wanted: Sequence[Requirement], excluded: set[Version]) -> Iterable[Candidate]:
        """The locked candidate, then (read from the index only if the resolver goes on) the others."""
        yield Candidate(name, pin.version, extras, pin.artifact)
        yield from self._candidates(name, extras, wanted, excluded | {pin.version})

    def _direct_candidates(self, name: NormalizedName, extras: frozenset[str], wanted: Sequence[Requirement],
                           excluded: set[Version]) -> list[Candidate]:
        """The direct source's one version, if every requirement on the name allows it (the
        source was read from the env's own `name @ URL` or project, so a URL here names it)."""
        dist = self.direct[name]
        if dist.version in excluded:
            return []
        for requirement in [*wanted, *self.constraints.get(name, ())]:
            if not requirement.specifier.contains(dist.version, prereleases=True):
                self.why_empty[name] = f"its direct source has version {dist.version}"
                return []
        return [Candidate(name, dist.version, extras, dist.artifact)]

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        # resolvelib asks this for every pin in every round; the answer never changes. The memo
        # holds the requirement itself, so its id can't be reused by another object meanwhile.
        key = (id(requirement), candidate.version)
        known = self._satisfied_memo.get(key)
        if known is None:
            known = self._satisfied_memo[key] = (requirement, requirement.specifier.contains(
                candidate.version, prereleases=True))
        return known[1]

    def get_dependencies(self, candidate: Candidate) -> Iterable[Requirement]:
        self.raise_lookahead_failure()
        requires = self._requirements_of(candidate)
        dependencies = []
        if candidate.extras:
            self._check_extras(candidate)
            # An extras candidate stands for "the base package, plus these extra requirements".
            dependencies.append(Requirement(f"{candidate.name}=={candidate.version}"))
            for requirement in requires:
                if requirement.marker is None:
                    continue
                if any(self._applies(requirement, extra) for extra in candidate.extras) \
                        and not self._applies(requirement, ""):
                    dependencies.append(requirement)
        else:
            dependencies = [r for r in requires if self._applies(r, "")]
        for requirement in dependencies:
            self.needed_by.setdefault(canonicalize_name(requirement.name), []).append((requirement, candidate))
        self.speculate(canonicalize_name(r.name) for r in dependencies)
        return dependencies

    # -- helpers -------------------------------------------------------------------------------

    def _applies(self, requirement: Requirement, extra: str) -> bool:
        """Whether a dependency's marker holds; one that can't be evaluated holds nowhere (as uv reads it),
        because a broken line in someone else's metadata must not stop the resolve."""
        return marker_holds(requirement.marker, self.interpreter.markers, extra=extra, if_unevaluable=False)

    def _check_extras(self, candidate: Candidate) -> None:
        """Warn (as pip and uv do) about an extra the chosen version does not provide."""
        if candidate.name in self.direct:
            return  # a local project or `name @ URL`: its metadata is not on an index
        assert candidate.artifact is not None
        provided = {canonicalize_name(extra)
                    for extra in multiple_use_field(self._metadata(candidate.artifact), "provides_extra")}
        for extra in sorted(candidate.extras):
            if canonicalize_name(extra) not in provided:
                warning = f"{candidate.name} {candidate.version} does not provide the extra {extra!r}"
                if warning not in self.warnings:
                    self.warnings.append(warning)

    def _requirements_of(self, candidate: Candidate) -> list[Requirement]:
        dist = self.direct.get(candidate.name)
        if dist is not None:  # a direct source is its name's one candidate
            return list(dist.requires)
        assert candidate.artifact is not None
        pin = self.locked.get(candidate.name)
        if pin is not None and pin.artifact == candidate.artifact and candidate.artifact.url not in self._requires_memo:
            assert pin.requires is not None
            self._requires_memo[pin.artifact.url] = valid_requirements(pin.requires)
            self._requires_text[pin.artifact.url] = pin.requires
        return self._requirements_of_artifact(candidate.artifact)

    def _metadata(self, artifact: Artifact) -> bytes:
        """A wheel's METADATA from the index (PEP 658, ranges or download); an sdist's from a wheel of
        the same version when there is one, else from its build backend."""
        if artifact.filename.endswith(".whl") or self.sdist_metadata is None:
            return self.index.metadata(artifact)
        stand_in = self.files.stand_in(artifact)
        if stand_in is not None:
            return self.index.metadata(stand_in)
        return self.sdist_metadata(artifact)

    def requires_text(self, artifact: Artifact) -> tuple[str, ...] | None:
        """The Requires-Dist lines of a file the resolver read (or took from the lock), for the new lock."""
        return self._requires_text.get(artifact.url)

    def _requirements_of_artifact(self, artifact: Artifact) -> list[Requirement]:
        """Requires-Dist of a wheel, parsed once however often the resolver (or speculation) asks."""
        cached = self._requires_memo.get(artifact.url)
        if cached is not None:
            return cached
        lines = tuple(multiple_use_field(self._metadata(artifact), "requires_dist"))
        requirements = valid_requirements(lines)
        self._requires_text[artifact.url] = lines
        self._requires_memo[artifact.url] = requirements
        return requirements

    def _candidates(self, name: NormalizedName, extras: frozenset[str], wanted: Sequence[Requirement],
                    excluded: set[Version]) -> Iterator[Candidate]:
        """Installable versions of `name` meeting every requirement, most preferred first, made as the
        resolver asks for them: it nearly always takes the first, and a big project has thousands."""
        installable = self.files.installable(name)
        wanted = [*wanted, *self.constraints.get(name, ())]
        specifiers = SpecifierSet()
        for requirement in wanted:
            specifiers &= requirement.specifier
        versions = installable.versions

        def allowed(version: Version, pre: bool) -> bool:
            return ((pre or not version.is_prerelease) and (not versions[version].yanked or pinned_exactly(version, wanted))
                    and specifiers.contains(version, prereleases=True))

        # Pre-releases only when asked for, or when no final release fits.
        pre = self.prereleases or any(spec.prereleases for spec in specifiers) \
            or not any(allowed(v, False) for v in self._newest_first(name, installable))
        preferred = self.preferred.get(name)
        order: Iterable[Version] = self._newest_first(name, installable)
        if preferred in versions:
            order = [preferred, *(v for v in order if v != preferred)]
        matched = yielded = False
        for version in order:
            if not allowed(version, pre):
                continue
            matched = True
            if version in excluded:
                continue
            if not yielded:  # the one the resolver will try first: start reading its metadata
                self.index.prefetch_metadata(versions[version].artifact)
                yielded = True
            yield Candidate(name, version, extras, versions[version].artifact)
        if not matched:
            self.why_empty[name] = installable.why_none or "no version matches"

    def _newest_first(self, name: NormalizedName, installable: Installable) -> Iterator[Version]:
        """The versions, newest first. The resolver nearly always takes the newest, and sorting a big
        project's thousands of versions (botocore's 2,500) only to read the first costs more than
        finding the newest: the rest are sorted (once) only when something reads past it."""
        order = self._order_memo.get(name)
        if order is None:
            if not installable.versions:
                return
            yield max(installable.versions)
            order = self._order_memo[name] = sorted(installable.versions, reverse=True)
            yield from order[1:]
        else:
            yield from order


def resolve(requirements: Sequence[Requirement], interpreter: Interpreter, index: IndexClient, *,
            prereleases: bool = False, preferred: Mapping[NormalizedName, Version] | None = None,
            reporter: BaseReporter[Requirement, Candidate, str] | None = None, constraints: Sequence[Requirement] = (),
            hashes: Mapping[str, tuple[frozenset[str], str]] | None = None,
            direct: Mapping[NormalizedName, DirectDist] | None = None,
            sdist_metadata: Callable[[Artifact], bytes] | None = None,
            origins: Sequence[str] = (), env: str | None = None,
            similar: Callable[[str], Sequence[str]] | None = None,
            warn: Callable[[str], None] | None = None,
            locked: Mapping[NormalizedName, Pin] | None = None,
            likely: Iterable[NormalizedName] = ()) -> dict[NormalizedName, Pin]:
    """Pins for `requirements` on `interpreter`; `preferred` versions win whenever they still fit.

    `constraints` cap the versions of names something requires and add nothing; with `hashes`
    (hash-checking mode) only files whose sha256 is listed for their package are used. `locked` pins
    (from the env's previous lock, with their Requires-Dist) are tried first without asking the index.
    `likely` names packages the resolve will probably need (every name of the old locks): the look-ahead
    asks for all of them at once, rather than one level of the dependency tree per round trip.
    For a failure's message: `origins` (parallel to `requirements`) says where each was
    written, `env` names the env, and `similar` offers names close to one not found; `warn`
    hears of what does not stop the resolve (an extra the package does not provide)."""
    provider = Provider(index, interpreter, prereleases=prereleases, preferred=preferred,
                        constraints=constraints, hashes=hashes, direct=direct, sdist_metadata=sdist_metadata,
                        origins={str(r): o for r, o in zip(requirements, origins, strict=False) if o},
                        locked=locked)
    roots = [r for r in requirements if _root_applies(r, interpreter)]
    for root in roots:
        provider.needed_by.setdefault(canonicalize_name(root.name), []).append((root, None))
    provider.speculate(canonicalize_name(r.name) for r in roots)
    provider.speculate(likely)  # after the roots: their pages are the first the resolver waits for
    resolver = Resolver(provider, reporter or BaseReporter())
    try:
        result = resolver.resolve(roots, max_rounds=20000)
    except ResolutionImpossible as exc:
        from envsync.resolve.failure import explain_failure

        raise explain_failure(exc, provider, env, similar) from None
    except ResolutionTooDeep:
        raise ResolutionConflict("the requirements could not be resolved within 20000 rounds",
                                 "add tighter version bounds to the requirements") from None
    finally:
        provider.close()
    provider.raise_lookahead_failure()
    for warning in provider.warnings:
        # Only extras of packages that made it into the result; a version tried and dropped doesn't count.
        name = warning.split(" ", 1)[0]
        if warn is not None and any(candidate.name == name and warning.startswith(f"{name} {candidate.version} ")
                                    for candidate in result.mapping.values()):
            warn(f"env {env}: {warning}" if env else warning)
    pins = _pins(result, provider)
    for name, dist in (direct or {}).items():
        if name in pins:
            pins[name] = replace(pins[name], source=dist.source)
    return pins


def _root_applies(requirement: Requirement, interpreter: Interpreter) -> bool:
    """Whether a requirement the user wrote applies to `interpreter`; a marker that can't be evaluated
    is the user's to fix, so it is a ConfigError rather than silently skipped."""
    def error(exc: Exception) -> ConfigError:
        return ConfigError(f"requirement {str(requirement)!r}: its marker can't be evaluated for Python "
                           f"{interpreter.version}: {exc}", "compare versions only with version-like values")

    return marker_holds(requirement.marker, interpreter.markers, if_unevaluable=error)


def _pins(result: Result[Requirement, Candidate, str], provider: Provider) -> dict[NormalizedName, Pin]:
    graph = result.graph
    pins: dict[NormalizedName, Pin] = {}
    parents: dict[NormalizedName, set[str]] = {}
    children: dict[NormalizedName, set[NormalizedName]] = {}
    for key in result.mapping:
        name, _ = split_key(key)
        for parent in graph.iter_parents(key):
            parent_name = ROOT if parent is None else split_key(parent)[0]
            if parent_name != name:
                parents.setdefault(name, set()).add(parent_name)
        for child in graph.iter_children(key):
            if child is None:  # the graph's root vertex, never anyone's child
                continue
            child_name = split_key(child)[0]
            if child_name != name:
                children.setdefault(name, set()).add(child_name)
    reasons: dict[NormalizedName, dict[str, list[str]]] = {}
    for key, criterion in result.criteria.items():
        name, _ = split_key(key)
        for information in criterion.information:
            who = ROOT if information.parent is None else information.parent.name
            if who != name:
                texts = reasons.setdefault(name, {}).setdefault(who, [])
                if str(information.requirement) not in texts:
                    texts.append(str(information.requirement))
    for candidate in result.mapping.values():
        if candidate.extras:
            continue
        pins[candidate.name] = Pin(
            name=candidate.name, version=candidate.version, artifact=candidate.artifact,
            required_by=tuple(sorted(parents.get(candidate.name, ()))),
            dependencies=tuple(sorted(children.get(candidate.name, ()))),
            reasons=tuple(sorted((who, ", ".join(texts)) for who, texts in reasons.get(candidate.name, {}).items())),
            requires=None if candidate.name in provider.direct or candidate.artifact is None
            else provider.requires_text(candidate.artifact),
        )
    return dict(sorted(pins.items()))

