"""`envsync freeze ENV`: what is installed in the env right now, as sorted `name==version` lines.

Read from the disk as `plan` reads it (dist-info folders), so drift shows: a package
another tool added or removed is there, or not, exactly as it is.
"""

from __future__ import annotations

from envsync.errors import EnvPathError
from envsync.model import Actual, EnvKind
from envsync.state.survey import survey

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    import argparse

    from envsync.cli import Output
    from envsync.state.session import Session


def freeze_lines(actual: Actual) -> list[str]:
    """pip freeze's form: one `name==version` per installed distribution, sorted by name."""
    return [f"{dist.name}=={dist.version}" for dist in sorted(actual.installed.values(), key=lambda d: d.name)]


def run(args: argparse.Namespace, out: Output, session: Session) -> int:
    from envsync.commands._shared import one_env

    try:
        spec = one_env(session, args.env, args.command)
    finally:
        session.close()
    actual = survey(spec.path)
    if actual.kind is EnvKind.MISSING:
        raise EnvPathError(f"env {spec.name} does not exist yet ({spec.display_path})",
                           f"run `envsync apply {spec.name}` to create it")
    if actual.kind is EnvKind.FOREIGN:
        raise EnvPathError(f"env {spec.name}: {spec.display_path} is not a virtual environment",
                           "point the env's `path` at a venv, or move that folder away")
    for line in freeze_lines(actual):
        out.result(line)
    return 0
