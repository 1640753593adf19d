"""The command line: parse arguments, run one command, print, and pick the exit code.

Only this module prints or exits. Heavy modules are imported inside the command
that needs them, so `envsync --help` and the no-op path stay fast.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Sequence

from . import __version__
from .errors import EnvsyncError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 1 with a one-paragraph message, as SPEC §2 asks."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_ERROR, f"envsync: error: {message}\n  hint: run `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    # The shared options work before or after the command (`envsync -c X plan`, `envsync plan -c X`).
    # Under a command they default to SUPPRESS, so an option given before it is not reset.
    top, common = _common_options(argparse.ArgumentParser(add_help=False), None), _common_options(
        argparse.ArgumentParser(add_help=False), argparse.SUPPRESS)

    parser = _Parser(prog="envsync", description="Declare Python virtual environments in envs.toml; "
                                                 "plan and apply them.", parents=[top])
    parser.add_argument("--version", action="version", version=f"envsync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    plan = commands.add_parser("plan", parents=[common], help="show what apply would change, changing nothing")
    plan.add_argument("envs", nargs="*", metavar="ENV")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--detailed-exitcode", action="store_true", help="exit 0 in sync, 2 with changes pending")
    _lock_mode(plan)
    _refresh(plan)

    apply = commands.add_parser("apply", parents=[common], help="make the envs match envs.toml")
    apply.add_argument("envs", nargs="*", metavar="ENV")
    _lock_mode(apply)
    _refresh(apply)

    lock = commands.add_parser("lock", parents=[common], help="resolve and write the PEP 751 lock files")
    lock.add_argument("envs", nargs="*", metavar="ENV")
    lock.add_argument("--upgrade", action="store_true", help="re-resolve everything to the newest allowed versions")
    lock.add_argument("--upgrade-package", action="append", default=[], metavar="PACKAGE",
                      help="let only this package (repeatable) move to its newest allowed version")
    _refresh(lock)

    listing = commands.add_parser("list", parents=[common], help="each env's path, interpreter and status")
    listing.add_argument("envs", nargs="*", metavar="ENV")
    _refresh(listing)
    return parser


def _refresh(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--refresh", action="store_true",
                        help="look again at everything: every env in full (not the record of the last in-sync "
                             "run) and every index page (not the HTTP cache)")


def _common_options(parser: argparse.ArgumentParser, default: object) -> argparse.ArgumentParser:
    flag_default = False if default is None else default
    parser.add_argument("-c", "--config", default=default,
                        help="path to envs.toml (default: nearest in this folder or a parent)")
    parser.add_argument("-v", "--verbose", action="store_true", default=flag_default, help="say more about what happens")
    parser.add_argument("-q", "--quiet", action="store_true", default=flag_default, help="print only errors")
    return parser


def _lock_mode(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--locked", action="store_true", help="fail if a lock file is missing or stale")
    group.add_argument("--frozen", action="store_true", help="install from the lock files as they are")


class Output:
    """Where the CLI's words go: results to stdout, progress and errors to stderr.

    The one writer of the terminal. Workers report events (envsync.events) to `emit`, from
    any thread; each becomes one whole line written under a lock, so envs applied side by
    side never write into each other's lines. Progress is a live status line on a terminal
    (rewritten in place, and cleared before any other line is written); piped or in CI it
    is plain lines, and only with -v, so logs never hold control characters.

    A stream that can no longer be written (`envsync list | head -1`) is silenced, and only
    that: the work goes on to its end, and the exit code is the one the work earned.
    """

    def __init__(self, quiet: bool, verbose: bool) -> None:
        import _thread  # not `threading`: this is on the no-op path, and a lock is all we need

        self.quiet, self.verbose = quiet, verbose
        self.live = sys.stderr.isatty() and not quiet and os.environ.get("TERM") != "dumb"
        self._status = False
        self._lock = _thread.allocate_lock()
        self._silenced: set[int] = set()

    def result(self, text: str) -> None:
        """What the command was asked for (a plan, a listing): printed even with -q."""
        self._line(sys.stdout, text)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._line(sys.stdout, text)

    def progress(self, text: str) -> None:
        if self.live:
            width = shutil.get_terminal_size((80, 20)).columns - 1
            with self._lock:
                self._status = self._write(sys.stderr, "\r\033[K" + text[:width])
        elif self.verbose and not self.quiet:
            self._line(sys.stderr, text)

    def emit(self, event: object) -> None:
        """One event from apply (an envsync.events.Event; not imported here, to keep `typing` off the
        no-op path), as a line, or as the status line when it is transient news."""
        from .events import TRANSIENT
        from .render import event_text

        text = event_text(event)  # type: ignore[arg-type]
        if isinstance(event, TRANSIENT):
            self.progress(text)
        else:
            self.info(text)

    def error(self, error: BaseException | str) -> None:
        self._line(sys.stderr, f"envsync: error: {error}")

    def warn(self, text: str) -> None:
        self._line(sys.stderr, text)

    def _line(self, stream, text: str) -> None:
        with self._lock:
            self._clear()
            self._write(stream, text + "\n")

    def _clear(self) -> None:
        if self._status:
            self._write(sys.stderr, "\r\033[K")
            self._status = False

    def _write(self, stream, text: str) -> bool:
        """Write and flush `text`; False when the stream is gone (a closed pipe, a hung-up terminal)."""
        key = id(stream)
        if key in self._silenced:
            return False
        try:
            stream.write(text)
            stream.flush()
            return True
        except (OSError, ValueError):
            self._silenced.add(key)
            _point_at_devnull(stream)
            return False


def _point_at_devnull(stream) -> None:
    """Send a dead stream's file descriptor to /dev/null, so that the interpreter's last flush
    at exit succeeds quietly instead of printing a BrokenPipeError and exiting 120."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's capture): nothing will flush it at exit


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    out = Output(args.quiet, args.verbose)
    try:
        return COMMANDS[args.command](args, out)
    except EnvsyncError as error:
        out.error(error)
        return error.exit_code
    except KeyboardInterrupt:
        out.warn("envsync: interrupted; the next `envsync apply` repairs any env left half-changed")
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 — anything else is our bug, and we say so
        if args.verbose:
            import traceback

            traceback.print_exc()
        out.warn(f"envsync: internal error (this is a bug in envsync {__version__}, please report it): "
                 f"{type(error).__name__}: {error}")
        return EXIT_ERROR


def _session(args: argparse.Namespace, out: Output):
    from .config.load import load
    from .config.paths import find_config
    from .reconcile import Session
    from .stamp import inputs_digest

    path = find_config(args.config)
    inputs = inputs_digest(path)  # before reading the config: an edit made meanwhile voids the stamp
    return Session(load(path), progress=out.progress, refresh=getattr(args, "refresh", False), inputs=inputs)


def _stamp(args: argparse.Namespace):
    """The stamp proving the selected envs are still in sync, or None (take the full path)."""
    if args.refresh:
        return None
    from .config.paths import find_config
    from .stamp import still_in_sync

    return still_in_sync(find_config(args.config), args.envs)


def _stamped_plan(stamp):
    from pathlib import Path

    from .model import EnvPlan, Plan

    return Plan(stamp.config, tuple(EnvPlan(e.name, Path(e.path), e.display_path, e.python, ()) for e in stamp.envs))


def _full_plan(args: argparse.Namespace, out: Output):
    """Load, resolve (or read locks), survey and diff; stamp the result when all is in sync."""
    from .reconcile import make_plan, record_in_sync

    session = _session(args, out)
    try:
        plan = make_plan(session, args.envs, _mode(args))
    except BaseException:
        session.close()  # stop background prefetches before reporting the error
        raise
    if not args.envs and not getattr(args, "frozen", False):
        record_in_sync(session, plan)
    return session, plan


def _mode(args: argparse.Namespace):
    from .reconcile import LockMode

    if getattr(args, "frozen", False):
        return LockMode.FROZEN
    return LockMode.LOCKED if getattr(args, "locked", False) else LockMode.AUTO


def cmd_plan(args: argparse.Namespace, out: Output) -> int:
    stamp = _stamp(args)
    if stamp is not None and stamp.text is not None:
        return _print_stamped(args, stamp, out)
    from .render import render_json, render_text, use_colour

    if stamp is not None:
        plan = _stamped_plan(stamp)
    else:
        session, plan = _full_plan(args, out)
        session.close()
    if args.json:
        out.result(render_json(plan))
    elif not args.quiet:
        out.result(render_text(plan, use_colour(sys.stdout)))
    if plan.errors:
        for env in plan.errors:
            out.error(f"env {env.name}: {env.error}")
        return EXIT_ERROR
    return EXIT_CHANGES if args.detailed_exitcode and plan.has_changes else EXIT_OK


def _print_stamped(args: argparse.Namespace, stamp, out: Output) -> int:
    """Print a whole-config in-sync plan from the stamp, importing nothing heavy."""
    if args.json:
        import json
        import os

        shown = os.path.relpath(stamp.config)
        out.result(json.dumps({"version": 1, "config": shown, **stamp.document}, indent=2))
    elif not args.quiet:
        out.result(stamp.text)
    return EXIT_OK


def cmd_apply(args: argparse.Namespace, out: Output) -> int:
    started = time.monotonic()
    if _stamp(args) is not None:
        out.info(f"No changes. Every environment is in sync ({time.monotonic() - started:.2f}s).")
        return EXIT_OK
    from .reconcile import record_in_sync
    from .render import env_header

    session, plan = _full_plan(args, out)
    try:
        result = None
        if plan.has_changes or plan.errors:
            from .install.apply import apply_plan
            from .stamp import forget

            forget(session.config.path)  # until apply has finished, nothing is proven in sync

            result = apply_plan(plan, lambda env: session.index(env.desired.spec.index), out.emit)
        written = session.write_locks()
        for path in written:
            out.info(f"wrote {path.name}")
        if (result or written) and not args.envs and not args.frozen:
            record_in_sync(session, plan.as_applied())
    finally:
        session.close()
    if result is None:
        out.info(f"No changes. Every environment is in sync ({time.monotonic() - started:.2f}s).")
        return EXIT_OK
    for env in plan.envs:
        if not env.actions:
            out.info(f"{env_header(env)}: in sync")
    out.info(f"Applied {result.actions} change{'s' if result.actions != 1 else ''} to {result.envs_changed} "
             f"env{'s' if result.envs_changed != 1 else ''} in {time.monotonic() - started:.2f}s.")
    return EXIT_OK


def cmd_lock(args: argparse.Namespace, out: Output) -> int:
    from .reconcile import Upgrade, desired_state, select_envs

    upgrade = Upgrade(everything=args.upgrade,
                      packages=frozenset(_normalise(name) for name in args.upgrade_package))
    session = _session(args, out)
    try:
        for spec in select_envs(session.config, args.envs):
            resolution = desired_state(session, spec, upgrade=upgrade)
            count = len(resolution.desired.pins)
            if resolution.new_lock is None:
                out.info(f"{resolution.lock_path.name} is up to date ({count} packages)")
            else:
                session.pending_locks[resolution.lock_path] = resolution.new_lock
                session.write_locks()
                out.info(f"wrote {resolution.lock_path.name} ({count} packages)")
    finally:
        session.close()
    return EXIT_OK


def _normalise(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def cmd_list(args: argparse.Namespace, out: Output) -> int:
    from .model import ActionKind

    stamp = _stamp(args)
    if stamp is not None:
        plan = _stamped_plan(stamp)
    else:
        session, plan = _full_plan(args, out)
        session.close()
    rows = []
    for env in plan.envs:
        kinds = {action.kind for action in env.actions}
        if env.error:
            status = "error: not a virtual environment"
        elif ActionKind.CREATE_ENV in kinds:
            status = "missing"
        elif ActionKind.REMOVE_ENV in kinds:
            status = "undeclared (apply removes it)"
        else:
            status = "drifted" if env.actions else "in sync"
        rows.append((env.name, env.display_path, f"Python {env.python}" if env.python else "-", status))
    widths = [max(len(row[i]) for row in rows) for i in range(3)] if rows else [0, 0, 0]
    for row in rows:
        out.result("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3])
    return EXIT_OK


COMMANDS = {"plan": cmd_plan, "apply": cmd_apply, "lock": cmd_lock, "list": cmd_list}

if __name__ == "__main__":
    sys.exit(main())
