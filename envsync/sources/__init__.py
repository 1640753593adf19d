"""Where packages come from, as typed kinds: an index file, an archive URL, a local folder, git.

Each kind is one module here and owns what differs between kinds: parsing it from a requirement,
reading its metadata, its PEP 751 entry (read and write), building its wheel, its
direct_url.json, its export line and why it needs a reinstall. This registry maps a requirement
(or a lock's package entry) to its kind; nothing outside this package branches on a kind.
Adding a kind is one new module and one line in `KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from envsync.errors import ConfigError
from envsync.model import EnvSpec, Pin, ProjectSpec
from envsync.sources import archive, folder, git
from envsync.sources.base import BuilderFactory, DirectDist, Kind, Source, shown, without_credentials
from envsync.sources.folder import project_dist, project_requirement
from envsync.sources.index_file import INDEX_FILE

if TYPE_CHECKING:
    from packaging.pylock import Package

# In the order they are asked: the first kind that claims a requirement's URL takes it.
KINDS: tuple[Kind, ...] = (git.KIND, folder.KIND, archive.KIND)

__all__ = ["KINDS", "DirectDist", "Source", "kind_of", "local_dists", "project_dists", "project_requirement",
           "project_roots", "remote_dists",
           "shown", "source_from_lock", "source_of", "without_credentials"]


def kind_of(url: str, config_dir: Path) -> Kind:
    """The kind of a `name @ URL` requirement's URL."""
    return next(kind for kind in KINDS if kind.claims(url, config_dir))


def source_of(pin: Pin) -> Source:
    """The pin's source; an `IndexFile` for a pin from an index."""
    return pin.source if pin.source is not None else INDEX_FILE


def source_of_index() -> Source:
    """The source of an index's (or find-links folder's) files."""
    return INDEX_FILE


def source_from_lock(package: Package, lock_path: Path) -> Source | None:
    """The direct source a PEP 751 package entry records, or None for an index's files."""
    for kind in KINDS:
        found = kind.from_lock(package, lock_path)
        if found is not None:
            return found
    return None


def local_dists(spec: EnvSpec, config_dir: Path, builder: BuilderFactory) -> dict[NormalizedName, DirectDist]:
    """The project and every local direct reference (a folder): their metadata, read on every
    plan, since a change to it (dependencies, version, entry points) must show in the plan."""
    found: dict[NormalizedName, DirectDist] = {}
    declared: dict[NormalizedName, ProjectSpec] = {}
    for project in spec.projects:
        dist = project_dist(project, spec.name, builder)
        if dist.name in declared:
            first = declared[dist.name]
            raise ConfigError(f"env {spec.name}: {first.where} ({first.display_path}) and {project.where} ({project.display_path}) "
                              f"are both the project {dist.name!r}", "install one of the two folders in this env")
        declared[dist.name] = project
        found[dist.name] = dist
    found.update(_direct_dists(spec, config_dir, builder, local=True))
    return found


def project_dists(spec: EnvSpec, local: Mapping[NormalizedName, DirectDist]) -> list[tuple[ProjectSpec, DirectDist]]:
    """Each of the env's local projects with its metadata (from `local_dists`), in declared order."""
    by_url = {dist.source.url: dist for dist in local.values()}
    return [(project, by_url[project.path.as_uri()]) for project in spec.projects if project.path.as_uri() in by_url]


def project_roots(spec: EnvSpec, local: Mapping[NormalizedName, DirectDist]) -> list[Requirement]:
    """The root requirements that put the env's local projects (with their extras) into it."""
    return [project_requirement(project, dist) for project, dist in project_dists(spec, local)]


def remote_dists(spec: EnvSpec, config_dir: Path, builder: BuilderFactory,
                 skip: Mapping[NormalizedName, DirectDist]) -> dict[NormalizedName, DirectDist]:
    """Every other `name @ URL` requirement (archives fetched and hashed, git revisions fixed to a
    commit). Only called when the env is resolved."""
    return {name: dist for name, dist in _direct_dists(spec, config_dir, builder, local=False).items()
            if name not in skip}


def _direct_dists(spec: EnvSpec, config_dir: Path, builder: BuilderFactory,
                  local: bool) -> dict[NormalizedName, DirectDist]:
    found: dict[NormalizedName, DirectDist] = {}
    for requirement in spec.requirements:
        if requirement.url is None:
            continue
        if spec.projects and canonicalize_name(requirement.name) in found:
            continue
        kind = kind_of(requirement.url, config_dir)
        if kind.local == local:
            dist = kind.read(requirement, config_dir, builder)
            found[dist.name] = dist
    return found


def direct_requirements(spec: EnvSpec) -> list[Requirement]:
    """The env's requirements as the resolver and the lock see them: no credentials in any URL."""
    return [without_credentials(requirement) for requirement in spec.requirements]


def env_roots(spec: EnvSpec, local: Mapping[NormalizedName, DirectDist]) -> list[Requirement]:
    """What the env asks the resolver for: its requirements (no credentials in a URL), its local
    projects with their extras in place of any line naming one, and the tools it seeds. The one
    list for an env resolved alone and for an env's share of a solve group."""
    requirements = direct_requirements(spec)
    if spec.projects:
        names = {dist.name for _, dist in project_dists(spec, local)}
        requirements = [r for r in requirements if canonicalize_name(r.name) not in names]
        requirements += project_roots(spec, local)
    return requirements + [Requirement(name) for name in spec.seed]
