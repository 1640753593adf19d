"""The no-op fast path: prove "nothing changed since the last in-sync run" from a few stats.

After a run that left every env in sync, we record a stamp: digests of the config
inputs and of each lock, and a cheap fingerprint of each venv (pyvenv.cfg,
site-packages and bin/ folder times). Any install or removal by any tool changes a
folder's mtime, so when every fingerprint and digest still matches, the envs are
still in sync and the full survey, resolver, HTTP client and pydantic are never
imported. Anything that disagrees falls back to the full path.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import namedtuple
from collections.abc import Iterable, Sequence
from pathlib import Path

from envsync.config.inputs import OVERRIDE_VARIABLES, config_files
from envsync.config.paths import lock_path
from envsync.files.cache import cache_subdir, write_atomic

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing would cost the no-op path
if TYPE_CHECKING:
    from typing import Any

    from envsync.model import Config

SCHEME = 5  # 5: the plan kept as data (each env's entry and the solve groups of plan_view), not as text


# Named tuples, not dataclasses: importing dataclasses would cost this path more than it saves.
StampedEnv = namedtuple("StampedEnv", "name path display_path python site_packages document")
StampedEnv.__doc__ = """An env as the last in-sync run saw it, with its entry of the plan as data
(`document`, as render/view.py's plan_view gives it), which every output format renders."""
Stamp = namedtuple("Stamp", "config envs summary groups files", defaults=((), ()))
Stamp.__doc__ = """What a proven no-op shows: the selected envs, the plan's summary, and the solve groups of
the selected envs (as plan_view gives them)."""


def stamped_view(stamp: Stamp) -> dict[str, Any]:
    """The in-sync plan of the stamp's envs as data, exactly as render/view.py's plan_view would give it."""
    groups = {group["name"]: group for group in stamp.groups}
    # Solve groups in the order their first selected env comes, as the full plan lists them.
    order = [name for name in dict.fromkeys(env.document.get("solve_group") for env in stamp.envs) if name in groups]
    return {"config": str(stamp.config), "envs": [env.document for env in stamp.envs],
            "solve_groups": [groups[name] for name in order], "lock_removals": [], "summary": stamp.summary,
            "changes_pending": False}


def _signature(path: str | Path) -> list[int] | None:
    """A file's identity and last change, as git's index keeps it: (inode, mtime_ns, size)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_ino, info.st_mtime_ns, info.st_size]


def inputs_digest(config_path: Path, extra_files: Sequence[str] = (), extra_variables: Sequence[str] = ()) -> list[Any]:
    """Everything the desired state is computed from, besides the locks: the config files, the
    override variables, and what decides which interpreter an env gets (envsync's own one when
    `python` is unset; PATH, pyenv's versions folder and the Pythons envsync installed when a version
    is asked for).

    `extra_files` and `extra_variables` are the requirements files and ${VAR}s the config read;
    their names are kept in the result, so a stamp knows what to look at without the config."""
    import sys

    pyenv = os.path.join(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"), "versions")
    from envsync.pythons.location import install_dir

    files = [*(_signature(path) for path in config_files(config_path)), _signature(pyenv), _signature(install_dir()),
             sys.executable, os.environ.get("PATH", ""), os.environ.get("HOME", ""), *(_signature(path) for path in extra_files)]
    extras = [[*extra_files], [*extra_variables]] if extra_files or extra_variables else []
    values = [os.environ.get(name, "") for name in (*OVERRIDE_VARIABLES, *extra_variables)]
    if not any(values):
        return [files, "", *extras]
    import hashlib  # only when set: hashed, not stored, since these URLs may carry credentials

    return [files, hashlib.sha256("\0".join(values).encode()).hexdigest(), *extras]


def extend_inputs(before: list[Any], config: Config) -> list[Any] | None:
    """`before` (taken before the config was read) plus the config's requirements files and ${VAR}s.

    None when anything changed since it was read: no stamp can be trusted from this run."""
    if not config.files and not config.variables:
        return before
    from envsync.config.inputs import other_inputs_unchanged

    after = inputs_digest(config.path, [path for path, _ in config.files], [name for name, _ in config.variables])
    if after[0][:len(before[0])] != before[0] or not other_inputs_unchanged(config):
        return None
    return after


def fingerprint(env_path: str, site_packages: str) -> list[list[int] | None]:
    """Cheap evidence of a venv's contents: changes whenever a package is added or removed."""
    return [_signature(os.path.join(env_path, "pyvenv.cfg")), _signature(site_packages),
            _signature(os.path.join(env_path, "bin")), _signature(os.path.join(env_path, "bin", "python"))]


def _root_listing(root: Path) -> list[str]:
    try:
        return sorted(os.listdir(root))
    except OSError:
        return []


def _stamp_path(config_path: Path) -> Path:
    import zlib  # cheap, unlike hashlib; a collision only costs a full run (the stamp names its inputs)

    data = str(config_path).encode("utf-8", "surrogateescape")
    return cache_subdir("stamps") / f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}.json"


def record(config_path: Path, inputs: list[Any], root: Path, envs: Iterable[StampedEnv], summary: dict[str, Any],
           groups: Sequence[dict[str, Any]] = ()) -> None:
    """Remember that every env in `envs` (the config's whole set) is in sync right now.

    `inputs` is `inputs_digest` taken before the config was read, so an edit made while
    planning leaves a stamp that no longer matches.
    """
    document = {
        "scheme": SCHEME,
        "summary": summary,
        "groups": list(groups),
        "config": str(config_path),
        "inputs": inputs,
        "root": str(root),
        "root_listing": _root_listing(root),
        "envs": [
            {**env._asdict(), "lock": _signature(lock_path(config_path, env.name)),
             "fingerprint": fingerprint(env.path, env.site_packages)}
            for env in envs
        ],
    }
    from envsync.errors import EnvsyncError

    # The stamp only saves time later: failing to write it must not fail the command.
    with contextlib.suppress(OSError, EnvsyncError):
        write_atomic(_stamp_path(config_path), json.dumps(document).encode())


def forget(config_path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(_stamp_path(config_path))


def still_in_sync(config_path: Path, names: list[str]) -> Stamp | None:
    """The selected envs if the stamp proves they are in sync, else None (take the full path)."""
    try:
        document = json.loads(_stamp_path(config_path).read_bytes())
    except (OSError, ValueError):
        return None
    stored = document.get("inputs")
    extras = stored[2:4] if isinstance(stored, list) and len(stored) == 4 else ()
    if (document.get("scheme") != SCHEME or document.get("config") != str(config_path)
            or stored != inputs_digest(config_path, *extras)):
        return None
    entries = {entry["name"]: entry for entry in document["envs"]}
    if names:
        # A matrix env's declared name stands for all its expansions, which their documents name.
        known = set(entries) | {_matrix_of(entry) for entry in entries.values()}
        if any(name not in known for name in names):
            return None
        selected = [entry for entry in entries.values() if entry["name"] in names or _matrix_of(entry) in names]
    elif _root_listing(Path(document["root"])) != document["root_listing"]:
        return None  # a folder appeared or vanished under the env root: maybe an env to remove
    else:
        selected = list(entries.values())
    for entry in selected:
        if entry["lock"] != _signature(lock_path(config_path, entry["name"])):
            return None
        if entry["fingerprint"] != fingerprint(entry["path"], entry["site_packages"]):
            return None
    envs = [StampedEnv(**{key: entry[key] for key in StampedEnv._fields}) for entry in selected]
    wanted = {env.document.get("solve_group") for env in envs}
    groups = [group for group in document.get("groups", ()) if group["name"] in wanted]
    files = tuple(extras[0]) if extras else ()  # the requirements files and such the config read
    return Stamp(config_path, envs, document["summary"], groups, files)


def _matrix_of(entry: dict[str, Any]) -> str | None:
    """The matrix env a stamped env is an expansion of, or None."""
    return (entry["document"].get("matrix") or {}).get("of")
