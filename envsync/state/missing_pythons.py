"""`skip-missing-pythons`: matrix expansions whose Python is not on this machine are left out, and named.

A contributor seldom has every Python of a matrix; with the setting (or `--skip-missing-pythons`)
the expansions it can serve proceed and the others are reported as skipped. Without it, a
missing Python stays the error it always was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from envsync.config.paths import lock_path
from envsync.errors import InterpreterNotFound, LockError
from envsync.model import Config, EnvSpec, Interpreter, SkippedEnv


def skip_missing_pythons(config: Config, specs: Sequence[EnvSpec], interpreter: Callable[[str | None], Interpreter],
                         *, locked: bool = False) -> tuple[list[EnvSpec], tuple[SkippedEnv, ...]]:
    """The selected envs that can proceed, and the expansions skipped for a Python not found.

    `locked` (--locked) still requires each skipped expansion's lock to exist. When every
    selected expansion is skipped there is nothing to test against: an error."""
    kept: list[EnvSpec] = []
    skipped: list[SkippedEnv] = []
    for spec in specs:
        if spec.matrix_of is not None:
            # Not found nor installable: `interpreter` installs (or plans) a build first, as
            # settings.python-downloads allows; only a Python neither here nor to be had is skipped.
            try:
                interpreter(spec.python)
            except InterpreterNotFound:
                shown = spec.python.replace("pypy", "PyPy ") if spec.python else "envsync's own Python"
                skipped.append(SkippedEnv(spec, f"Python {shown} not found".replace("Python PyPy", "PyPy")))
                continue
        kept.append(spec)
    for entry in skipped if locked else ():
        path = lock_path(config.path, entry.name)
        if not path.is_file():
            raise LockError(f"{path.name} does not exist (env {entry.name}, skipped here: {entry.reason}), and "
                            "--locked forbids changing it", f"run `envsync lock {entry.name}` where that Python "
                                                            f"is installed, and commit {path.name}")
    if skipped and len(skipped) == sum(1 for spec in specs if spec.matrix_of is not None):
        listed = "; ".join(f"{entry.name}: {entry.reason}" for entry in skipped)
        raise InterpreterNotFound(f"every selected matrix expansion was skipped ({listed})",
                                  "install one of those Pythons (for example with pyenv), or select other envs")
    return kept, tuple(skipped)
