"""`envsync cache prune`: remove the package files in the cache that nothing uses any more.

The package files are the downloads, the unpacked wheels and the wheels built from sdists,
each kept under its sha256. One is in use when a lock lists its hash, or when an env has
its package installed at that version. Locks and envs of every config this machine has
applied (remembered in the cache, see state/known_envs.py) count, not only this one's:
pruning in one project never makes another download or build again. Locks kept parsed
(files/parsed_toml.py) go when no lock of those configs has that text any more. Index pages,
metadata and interpreter probes are small and make the next resolve fast: they stay.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from envsync.files.cache import cache_subdir
from envsync.files.parsed_toml import FOLDER, entry_name, load_toml

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    import argparse

    from envsync.cli import Output
    from envsync.state.session import Session

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DIST = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+?)(?:\.dist-info|-.*\.whl)$")


@dataclass(frozen=True)
class InUse:
    """What the cache must keep: file hashes the locks list, installed (name, version) pairs, and
    the parsed-TOML entries of the locks as they are now."""

    hashes: frozenset[str]
    installed: frozenset[tuple[str, str]]
    parsed: frozenset[str] = frozenset()


def run(args: argparse.Namespace, out: Output, session: Session) -> int:
    from envsync.state.known_envs import known_configs

    try:
        configs = list(dict.fromkeys([session.config.path, *known_configs()]))
        used = in_use(configs, [env.path for env in session.config.envs])
    finally:
        session.close()
    freed, removed = prune(cache_subdir("downloads"), cache_subdir("unpacked"), cache_subdir("built"), used)
    freed += prune_parsed(cache_subdir(FOLDER), used)
    out.result(f"removed {removed} unused package file{'s' if removed != 1 else ''} from the cache, "
               f"freeing {freed / 1e6:.1f} MB (kept what the locks and envs of {len(configs)} "
               f"config{'s' if len(configs) != 1 else ''} use)")
    return 0


def in_use(configs: Iterable[Path], env_paths: Iterable[Path]) -> InUse:
    """The hashes in every lock beside `configs`, and every package installed in their envs."""
    from packaging.utils import canonicalize_name

    from envsync.state.known_envs import known_env_paths
    from envsync.state.survey import survey

    hashes: set[str] = set()
    parsed: set[str] = set()
    paths = set(env_paths)
    for config in configs:
        for lock in config.parent.glob("pylock.*.toml"):
            try:
                text = lock.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            hashes |= lock_hashes(text)
            parsed.add(entry_name(text))
        paths |= set(known_env_paths(config))
    installed = {(str(canonicalize_name(dist.name)), str(dist.version))
                 for path in paths if path.is_dir() for dist in survey(path).installed.values()}
    return InUse(frozenset(hashes), frozenset(installed), frozenset(parsed))


def lock_hashes(text: str) -> set[str]:
    """Every sha256 a lock's TOML lists (wheels, sdists, archives), read as plain TOML."""
    try:
        document = load_toml(text)
    except ValueError:  # not TOML (tomllib.TOMLDecodeError)
        return set()
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            digest = value.get("hashes", {}).get("sha256") if isinstance(value.get("hashes"), dict) else None
            if isinstance(digest, str):
                found.add(digest.lower())
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(document)
    return found


def prune(downloads: Path, unpacked: Path, built: Path, used: InUse) -> tuple[int, int]:
    """Remove every cached package file not in `used`: (bytes freed, entries removed)."""
    freed = removed = 0
    for folder in (downloads, unpacked, built):
        for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
            digest = entry.name.removesuffix(".marker").removesuffix(".json")  # a wheel's markers: its folder's
            if not _SHA256.match(digest) or keep(entry if entry.is_dir() else folder / digest, digest, used):
                continue
            freed += _size(entry)
            _remove(entry)
            removed += entry.suffix not in (".marker", ".json")
    return freed, removed


def prune_parsed(folder: Path, used: InUse) -> int:
    """Remove the parsed-TOML entries no lock has the text of any more: the bytes freed."""
    freed = 0
    for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
        if entry.name not in used.parsed and entry.suffix == ".json" and entry.is_file():
            freed += entry.stat().st_size
            entry.unlink(missing_ok=True)
    return freed


def keep(entry: Path, digest: str, used: InUse) -> bool:
    """Whether a cache entry (a folder named by sha256) is in use: its hash is locked, or it holds
    a package some env has installed at that version."""
    if digest in used.hashes:
        return True
    try:
        names = [child.name for child in entry.iterdir()] if entry.is_dir() else []
    except OSError:
        return True  # can't tell: keep it
    return any(dist in used.installed for dist in _dists(names))


def _dists(names: Iterable[str]) -> list[tuple[str, str]]:
    from packaging.utils import canonicalize_name

    found = []
    for name in names:
        match = _DIST.match(name)
        if match:
            found.append((str(canonicalize_name(match["name"])), match["version"].replace("_", "-")))
    return found


def _size(path: Path) -> int:
    from envsync.commands.doctor import folder_size

    return folder_size(path) if path.is_dir() else path.stat().st_size


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
