"""Carry out a Plan: fetch every wheel once (in parallel), then change each env in order.

Apply never decides *what* to do — the plan did. It re-reads the env only to find
the dist-info folders it must remove, and it holds a per-env lock throughout.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..cache import cache_subdir
from ..errors import EnvsyncError
from ..model import ActionKind, Artifact, EnvPlan, Plan
from ..survey import survey
from .site import SiteLayout, install_wheel, layout_for, uninstall
from .venv import create_venv, recreate_venv, remove_venv
from .wheel import UnpackedWheel, unpack_wheel

INSTALLING = (ActionKind.INSTALL, ActionKind.UPGRADE, ActionKind.DOWNGRADE, ActionKind.REINSTALL)
REPLACING = (ActionKind.UPGRADE, ActionKind.DOWNGRADE, ActionKind.REINSTALL, ActionKind.REMOVE)


@dataclass(frozen=True)
class ApplyResult:
    envs_changed: int
    actions: int
    seconds: float


def apply_plan(plan: Plan, index_for: Callable[[EnvPlan], object], report: Callable[[str], None]) -> ApplyResult:
    """Make every env in `plan` match its desired state; report each action as it is done."""
    start = time.monotonic()
    if plan.errors:
        first = plan.errors[0]
        raise EnvsyncError(f"env {first.name}: {first.error}", "nothing was changed")
    unpacked = fetch_wheels(plan, index_for, report)
    changed = done = 0
    for env in plan.envs:
        if not env.actions:
            continue
        with env_lock(env.path):
            done += apply_env(env, unpacked, report)
        changed += 1
    return ApplyResult(changed, done, time.monotonic() - start)


def _needed(plan: Plan) -> dict[str, tuple[Artifact, EnvPlan]]:
    """Each artifact some env must install, once, keyed by its URL."""
    needed: dict[str, tuple[Artifact, EnvPlan]] = {}
    for env in plan.envs:
        if env.desired is None:
            continue
        for action in env.actions:
            if action.kind in INSTALLING or action.kind in (ActionKind.CREATE_ENV, ActionKind.RECREATE_ENV):
                pins = env.desired.pins.values() if action.package is None else [env.desired.pins[action.package]]
                for pin in pins:
                    needed.setdefault(pin.artifact.url, (pin.artifact, env))
    return needed


def fetch_wheels(plan: Plan, index_for, report) -> dict[str, UnpackedWheel]:
    """Download (or find in the cache), verify and unpack every wheel the plan installs."""
    needed = _needed(plan)
    if not needed:
        return {}
    cache_root = cache_subdir("unpacked")

    def fetch(item: tuple[Artifact, EnvPlan]) -> tuple[str, UnpackedWheel]:
        artifact, env = item
        path = index_for(env).download(artifact)
        sha256 = artifact.sha256 or _sha256_of(path)
        return artifact.url, unpack_wheel(path, sha256, cache_root)

    report(f"fetching {len(needed)} wheel{'s' if len(needed) != 1 else ''}")
    workers = min(16, len(needed))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="envsync-fetch") as pool:
        return dict(pool.map(fetch, needed.values()))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def apply_env(env: EnvPlan, unpacked: dict[str, UnpackedWheel], report: Callable[[str], None]) -> int:
    """Carry out one env's actions in plan order. Returns how many were done."""
    from ..render import SYMBOLS, describe_action

    done = 0
    roots = root_names(env)
    for action in env.actions:
        kind = action.kind
        if kind is ActionKind.REMOVE_ENV:
            remove_venv(env.path)
        elif kind is ActionKind.CREATE_ENV:
            create_venv(env.path, env.desired.interpreter, prompt=env.name)
        elif kind is ActionKind.RECREATE_ENV:
            recreate_venv(env.path, env.desired.interpreter, prompt=env.name)
        else:
            layout = layout_for(env.path, env.desired.interpreter.short_version)
            if kind in REPLACING:
                _remove_installed(env.path, action.package, layout)
            if kind in INSTALLING:
                pin = env.desired.pins[action.package]
                install_wheel(unpacked[pin.artifact.url], layout, requested=pin.name in roots)
        report(f"{env.name}: {SYMBOLS[kind][0]} {describe_action(action)}")
        done += 1
        if kind in (ActionKind.CREATE_ENV, ActionKind.RECREATE_ENV):
            done += _install_all(env, unpacked, report)
            break
    return done


def _install_all(env: EnvPlan, unpacked: dict[str, UnpackedWheel], report) -> int:
    """After a (re)create every remaining action is an install into the fresh env."""
    from ..render import describe_action

    layout = layout_for(env.path, env.desired.interpreter.short_version)
    roots = root_names(env)
    count = 0
    for action in env.actions:
        if action.kind is ActionKind.INSTALL:
            pin = env.desired.pins[action.package]
            install_wheel(unpacked[pin.artifact.url], layout, requested=pin.name in roots)
            report(f"{env.name}: + {describe_action(action)}")
            count += 1
    return count


def root_names(env: EnvPlan) -> set[str]:
    """Packages the user asked for by name: they get a REQUESTED file, as pip writes."""
    from packaging.utils import canonicalize_name

    if env.desired is None:  # remove-env: nothing is installed
        return set()
    return {canonicalize_name(r.name) for r in env.desired.spec.requirements}


def _remove_installed(path: Path, package: str, layout: SiteLayout) -> None:
    installed = survey(path).installed.get(package)
    if installed is not None:
        uninstall(installed.dist_info, layout)


@contextmanager
def env_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for the env at `path`, kept in the cache (outside the env)."""
    key = hashlib.sha256(str(path).encode()).hexdigest()[:24]
    lock_path = cache_subdir("locks") / f"{key}.lock"
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            print(f"envsync: waiting for {holder} to finish with {path}", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"envsync pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
