"""`envsync doctor`: what is unhealthy about this config's envs, in plain words, and the
command that fixes each thing.

It looks, and changes nothing: each env's interpreter, whether its lock is fresh, whether
the env still holds what the lock says, envs and locks nothing declares any more, the
Pythons a matrix asks for, and whether each index answers. It never resolves: an env
whose lock is missing or stale is reported as such, not compared. Exit 1 when something
needs a fix; notes that need none (a lock another tool wrote, the cache's size) leave it 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envsync.errors import EnvsyncError, InterpreterNotFound, LockError
from envsync.model import EnvKind, EnvSpec
from envsync.state.session import Session

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    import argparse

    from envsync.cli import Output

EXIT_OK, EXIT_NEEDS_FIX = 0, 1


@dataclass(frozen=True)
class Finding:
    """One thing doctor says: a problem with the command that fixes it, or a note (fix None, ok)."""

    text: str
    fix: str | None = None
    problem: bool = True


def run(args: argparse.Namespace, out: Output, session: Session) -> int:
    try:
        findings = examine(session)
    finally:
        session.close()
    for finding in findings:
        out.result(("problem: " if finding.problem else "note: ") + finding.text)
        if finding.fix:
            out.result(f"  fix: {finding.fix}")
    problems = sum(finding.problem for finding in findings)
    out.result(f"{problems} problem{'s' if problems != 1 else ''} found" if problems
               else f"No problems: every env of {session.config.path.name} is healthy.")
    return exit_code(findings)


def exit_code(findings: list[Finding]) -> int:
    return EXIT_NEEDS_FIX if any(finding.problem for finding in findings) else EXIT_OK


def examine(session: Session) -> list[Finding]:
    """Every finding for the session's config, envs first, then orphans, indexes and the cache."""
    findings: list[Finding] = []
    for spec in session.config.envs:
        findings += examine_env(session, spec)
    findings += orphans(session)
    findings += unreachable_indexes(session)
    findings += notes(session)
    return findings


def examine_env(session: Session, spec: EnvSpec) -> list[Finding]:
    """An env's interpreter, its Python, its lock and its contents, in that order: the first
    thing wrong hides what depends on it (a stale lock can't say whether the env drifted)."""
    from envsync.state.desired import LockMode, desired_state
    from envsync.state.planner import plan_env
    from envsync.state.survey import survey

    name = f"env {spec.name} ({spec.display_path})"
    actual = survey(spec.path)
    found = []
    if actual.kind is EnvKind.VENV and not actual.interpreter_ok:
        base = f" (Python {actual.python_version}, from {actual.python_home})" if actual.python_home else ""
        found.append(Finding(f"{name}: its interpreter is gone{base}: the Python it was made from was "
                             "uninstalled or moved, so the env cannot start",
                             f"envsync apply {spec.name}   (recreates it with a Python that is there)"))
    try:
        session.interpreter(spec.python)
    except InterpreterNotFound:
        matrix = f" (matrix of env {spec.matrix_of})" if spec.matrix_of else ""
        return [*found, Finding(f"{name}{matrix}: no Python {spec.python} on this machine",
                                f"install it, e.g. `pyenv install {spec.python}` or `uv python install {spec.python}`"
                                f", then `envsync apply {spec.name}`")]
    from envsync.config.paths import lock_path
    from envsync.resolve.lockfile import read_lock

    try:
        lock = read_lock(lock_path(session.config.path, spec.name))
        # A lock another tool wrote has no inputs digest to be stale against: it is used as it is.
        mode = LockMode.FROZEN if lock is not None and lock.digest is None else LockMode.LOCKED
        resolution = desired_state(session, spec, mode)
    except LockError as error:
        return [*found, Finding(f"{name}: {_first_line(error.message)}", f"envsync lock {spec.name}")]
    except EnvsyncError as error:
        return [*found, Finding(f"{name}: {_first_line(error.message)}", error.hint)]
    if found:
        return found
    if actual.kind is EnvKind.MISSING:
        return [Finding(f"{name}: not created yet", f"envsync apply {spec.name}")]
    if actual.kind is EnvKind.FOREIGN:
        return [Finding(f"{name}: the folder exists but is not a virtual environment (no pyvenv.cfg)",
                        f"move it away, or set envs.{spec.name}.path to another folder")]
    actions = plan_env(resolution.desired, actual, None).actions
    if actions:
        from envsync.render import short_action

        shown = ", ".join(short_action(action) for action in actions[:5]) + (", ..." if len(actions) > 5 else "")
        return [Finding(f"{name}: differs from its lock, changed by hand or by another tool ({shown})",
                        f"envsync apply {spec.name}")]
    return []


def _first_line(text: str) -> str:
    return text.splitlines()[0]


def orphans(session: Session) -> list[Finding]:
    """Envs this config made and no longer declares, and locks of envs no longer declared."""
    from envsync.state.planner import orphan_locks
    from envsync.state.reconcile import lock_files, undeclared_envs

    config = session.config
    found = [Finding(f"env {gone.name} ({gone.display_path}): made for this config, no longer declared",
                     "envsync apply   (removes it)") for gone in undeclared_envs(config)]
    found += [Finding(f"{path.name}: the lock of an env no longer declared", "envsync apply   (removes it)")
              for path in orphan_locks((env.name for env in config.envs), lock_files(config))]
    return found


def unreachable_indexes(session: Session) -> list[Finding]:
    """Each index the envs use, asked once for its root (a HEAD request: PyPI's root page is large)."""
    from envsync.resolve.urls import strip_credentials

    found = []
    seen: set[str] = set()
    for spec in session.config.envs:
        for url in spec.index.search_order():
            if url in seen or not url.startswith(("http://", "https://")):
                continue
            seen.add(url)
            try:
                session.index(spec.index).client.head(url.rstrip("/") + "/", follow_redirects=True)
            except Exception as error:  # noqa: BLE001 — any failure to get an answer is the finding
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                found.append(Finding(f"index {strip_credentials(url)} does not answer ({reason})",
                                     "check the address, your network and proxy; with fresh locks, "
                                     "`envsync apply` still needs it for files not in the cache"))
    return found


def notes(session: Session) -> list[Finding]:
    """What needs no fix: locks another tool wrote (envsync reads them as they are), the cache's size."""
    from envsync.files.cache import cache_dir
    from envsync.state.reconcile import lock_files

    found = [Finding(f"{path.name} was written by another tool; envsync reads it as it is", problem=False)
             for path, env in lock_files(session.config) if env is None]
    root = cache_dir()
    from envsync.render.text import megabytes

    found.append(Finding(f"cache: {megabytes(folder_size(root))} in {root} "
                         "(`envsync cache prune` removes what no lock or env uses)", problem=False))
    return found


def folder_size(root: Path) -> int:
    """Bytes of the regular files under `root` (links not followed)."""
    import os

    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


