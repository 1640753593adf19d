"""`envsync apply [ENV...]` (and the sync before `envsync run`): the apply use case, and what it says.

The no-op path comes first and imports nothing heavy: when the stamp proves the selected envs
in sync, the answer is one line. Otherwise the session is opened, the use case
(state.reconcile.apply_envs) does the work, and its outcome is printed here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from envsync.cli import Output

NO_ENVS = "No envs are declared in {name}: add an [envs.NAME] table, or run `envsync init`."


def apply_and_report(config_path: Path, names: Sequence[str], out: Output, *, frozen: bool = False,
                     locked: bool = False, refresh: bool = False, skip_missing_pythons: bool = False) -> int:
    """Apply the selected envs (every env when `names` is empty) and print what was done; exit code 0."""
    started = time.monotonic()
    if not refresh:
        from envsync.state.stamp import still_in_sync

        stamp = still_in_sync(config_path, list(names))
        if stamp is not None:
            if not stamp.envs and not names:
                out.info(NO_ENVS.format(name=os.path.basename(stamp.config)))
            else:
                out.info(f"No changes. Every environment is in sync ({time.monotonic() - started:.2f}s).")
            return 0
    from envsync.render.view import env_header
    from envsync.state.reconcile import apply_envs, lock_mode
    from envsync.state.session import open_session

    session = open_session(config_path, progress=out.progress, warn=out.warn, refresh=refresh, install_pythons=True,
                           skip_missing_pythons=skip_missing_pythons)
    try:
        applied = apply_envs(session, names, lock_mode(frozen=frozen, locked=locked), out.emit)
    finally:
        session.close()  # also stops background prefetches before an error is reported
    plan, outcome = applied.plan, applied.outcome
    for skipped in plan.skipped:
        out.info(f"env {skipped.name}: skipped ({skipped.reason})")
    if not applied.changed:
        if not plan.entries:
            out.info(NO_ENVS.format(name=plan.config_path.name))
        else:
            out.info(f"No changes. Every environment is in sync ({time.monotonic() - started:.2f}s).")
        return 0
    for path in outcome.locks_written:
        out.info(f"wrote {path.name}")
    for path in outcome.locks_removed:
        out.info(f"removed {path.name} (its env is no longer declared)")
    for env in plan.envs:
        if not env.actions:
            out.info(f"{env_header(env)}: in sync")
    seconds = time.monotonic() - started
    if not outcome.actions:
        out.info(f"Every environment is in sync; lock files updated ({seconds:.2f}s).")
        return 0
    out.info(f"Applied {outcome.actions} change{'s' if outcome.actions != 1 else ''} to {outcome.envs_changed} "
             f"env{'s' if outcome.envs_changed != 1 else ''} in {seconds:.2f}s.")
    return 0
