"""The command line: parse arguments, run one command, print, and pick the exit code.

Only this module prints or exits. Heavy modules are imported inside the command
that needs them, so `envsync --help` and the no-op path stay fast.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence

from envsync import __version__
from envsync.commands.apply import NO_ENVS as _NO_ENVS
from envsync.errors import EnvsyncError
from envsync.render import FORMATS

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn, TextIO

    from envsync.model import Plan
    from envsync.state.desired import LockMode
    from envsync.state.session import Session
    from envsync.state.stamp import Stamp
    Command = Callable[[argparse.Namespace, "Output"], int]

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 1 with a one-paragraph message, as the README's exit codes promise."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_ERROR, f"envsync: error: {message}\n  hint: run `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    # The shared options work before or after the command (`envsync -c X plan`, `envsync plan -c X`).
    # Under a command they default to SUPPRESS, so an option given before it is not reset.
    top, common = _common_options(_Parser(add_help=False), None), _common_options(
        _Parser(add_help=False), argparse.SUPPRESS)

    parser = _Parser(prog="envsync", description="Declare Python virtual environments in envs.toml; "
                                                 "plan and apply them.", parents=[top])
    parser.add_argument("--version", action="version", version=f"envsync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    plan = commands.add_parser("plan", parents=[common], help="show what apply would change, changing nothing")
    plan.add_argument("envs", nargs="*", metavar="ENV")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--detailed-exitcode", action="store_true", help="exit 0 in sync, 2 with changes pending")
    plan.add_argument("--base", metavar="GITREF",
                      help="compare the config and locks at this git revision with the working tree (code review)")
    plan.add_argument("--format", choices=tuple(FORMATS),
                      help="text (default), json, or (with --base) markdown for a pull-request comment")
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

    # Commands with a module of their own under envsync/commands/.
    export = commands.add_parser("export", parents=[common], help="the env's locked packages for other tools")
    export.add_argument("env", metavar="ENV")
    export.add_argument("--format", choices=["requirements-txt", "pylock"], default="requirements-txt",
                        help="requirements-txt (default; pinned, with hashes) or pylock (the PEP 751 lock)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    export.add_argument("--no-emit-project", action="store_true",
                        help="leave local projects out (installers in hash-checking mode refuse them)")
    freeze = commands.add_parser("freeze", parents=[common], help="what is installed in an env now")
    freeze.add_argument("env", metavar="ENV")
    tree = commands.add_parser("tree", parents=[common], help="an env's packages as a dependency tree")
    tree.add_argument("env", metavar="ENV")
    tree.add_argument("--invert", metavar="PKG", help="show why PKG is in the env: every path to it")
    init = commands.add_parser("init", parents=[common], help="write a commented envs.toml for this folder")
    init.add_argument("--from", dest="source", metavar="PATH", help="adopt this existing venv, packages pinned")
    init.add_argument("--force", action="store_true", help="replace an existing envs.toml (kept as envs.toml.bak)")

    # run and watch (envsync/commands/): the parsers here, the code there, imported only when used.
    run = commands.add_parser("run", parents=[common], help="run a command or a script inside an env, syncing it first",
                              usage="envsync run [OPTIONS] [ENV][:SCRIPT] [-- ARGS...]  (or [ENV] -- CMD [ARGS...])")
    run.add_argument("--no-sync", action="store_true", help="run as the env is, without syncing it first")
    run.add_argument("--parallel", nargs="?", const="auto", metavar="N",
                     help="a matrix's runs side by side: --parallel (as many as CPUs) or --parallel=N; "
                          "each run's output is printed whole when it ends")
    _lock_mode(run)
    run.add_argument("words", nargs=argparse.REMAINDER, metavar="[ENV][:SCRIPT] [-- ARGS...]")
    run.set_defaults(run_parser=run)
    watch = commands.add_parser("watch", parents=[common], help="apply, then apply again whenever the config changes")
    watch.add_argument("envs", nargs="*", metavar="ENV")
    _lock_mode(watch)

    commands.add_parser("doctor", parents=[common], help="say what is unhealthy about the envs, and how to fix it")
    cache = commands.add_parser("cache", parents=[common], help="envsync's cache of packages")
    cache_commands = cache.add_subparsers(dest="cache_command", metavar="COMMAND", parser_class=_Parser, required=True)
    cache_commands.add_parser("prune", parents=[common], help="remove what no lock or env of this config uses")

    # add and remove (envsync/commands/edit.py): edit one env's dependencies in envs.toml, then sync it.
    for name, text in (("add", "add packages to an env's dependencies, then lock and apply it"),
                       ("remove", "remove packages from an env's dependencies, then lock and apply it")):
        edit = commands.add_parser(name, parents=[common], help=text)
        edit.add_argument("packages", nargs="+", metavar="PKG")
        edit.add_argument("--env", metavar="ENV", help="the env to edit (may be left out when there is one)")
        edit.add_argument("--no-sync", action="store_true", help="only edit envs.toml; lock and apply later")
        if name == "add":
            edit.add_argument("--to", metavar="FILE", help="the file to add to: one of the requirements files the "
                                                          "env reads, or envs.toml (asked when unclear)")

    # python (envsync/commands/python.py): the interpreters found here, and python-build-standalone installs.
    python = commands.add_parser("python", parents=[common], help="list, install or uninstall Pythons")
    pythons = python.add_subparsers(dest="python_command", metavar="ACTION", parser_class=_Parser, required=True)
    pythons.add_parser("list", parents=[common], help="the Pythons found here, and which env uses which")
    install = pythons.add_parser("install", parents=[common], help="install python-build-standalone builds")
    install.add_argument("versions", nargs="+", metavar="VERSION", help="a version such as 3.12, or a range")
    uninstall = pythons.add_parser("uninstall", parents=[common], help="remove Pythons envsync installed")
    uninstall.add_argument("versions", nargs="+", metavar="VERSION")
    uninstall.add_argument("--force", action="store_true",
                           help="remove it even while envs use it (the next apply recreates them)")
    _skip_missing(plan, apply, lock, listing, run)  # watch follows settings.skip-missing-pythons
    return parser


def _skip_missing(*parsers: argparse.ArgumentParser) -> None:
    for parser in parsers:
        parser.add_argument("--skip-missing-pythons", action="store_true", help="leave out a matrix expansion "
                            "whose Python is not found, and say so (settings.skip-missing-pythons)")


def _refresh(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--refresh", action="store_true",
                        help="look again at everything: every env in full (not the record of the last in-sync "
                             "run) and every index page (not the HTTP cache)")


def _common_options(parser: _Parser, default: object) -> _Parser:
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

    def __init__(self, quiet: bool, verbose: bool, *, results_to_stderr: bool = False) -> None:
        import _thread  # not `threading`: this is on the no-op path, and a lock is all we need

        self.quiet, self.verbose = quiet, verbose
        self.results_to_stderr = results_to_stderr  # `run`: stdout belongs to the command it runs
        self.live = sys.stderr.isatty() and not quiet and os.environ.get("TERM") != "dumb"
        self._status = False
        self._lock = _thread.allocate_lock()
        self._silenced: set[int] = set()

    def result(self, text: str) -> None:
        """What the command was asked for (a plan, a listing): printed even with -q."""
        self._line(self._results(), text)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._line(self._results(), text)

    def _results(self) -> TextIO:
        return sys.stderr if self.results_to_stderr else sys.stdout

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
        from envsync.events import TRANSIENT
        from envsync.render.view import event_text

        text = event_text(event)  # type: ignore[arg-type]
        if isinstance(event, TRANSIENT):
            self.progress(text)
        else:
            self.info(text)

    def error(self, error: BaseException | str) -> None:
        self._line(sys.stderr, f"envsync: error: {error}")

    def warn(self, text: str) -> None:
        """Something the user should know that does not stop the command (unless -q)."""
        if not self.quiet:
            self._line(sys.stderr, f"envsync: warning: {text}")

    def note(self, text: str) -> None:
        """A line on stderr beside a command whose stdout is its result (export, tree), unless -q."""
        if not self.quiet:
            self._line(sys.stderr, text)

    def notice(self, text: str) -> None:
        """A line on stderr as it is, even with -q (an interrupt)."""
        self._line(sys.stderr, text)

    def _line(self, stream: TextIO, text: str) -> None:
        with self._lock:
            self._clear()
            self._write(stream, text + "\n")

    def _clear(self) -> None:
        if self._status:
            self._write(sys.stderr, "\r\033[K")
            self._status = False

    def _write(self, stream: TextIO, text: str) -> bool:
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


def _point_at_devnull(stream: TextIO) -> None:
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


def main(argv: Sequence[str] | None = None, *, owns_process: bool = False) -> int:
    """Run one command. `owns_process`: this process exists for this one command (`run`), so
    what is only worth doing in a process of its own is done (see `_one_shot`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    if owns_process:
        _one_shot(args.command)
    out = Output(args.quiet, args.verbose)
    try:
        return COMMANDS[args.command](args, out)
    except EnvsyncError as error:
        out.error(error)
        if getattr(args, "json", False) or getattr(args, "format", None) == "json":
            _print_json_error(error, out)
        return error.exit_code
    except KeyboardInterrupt:
        out.notice("envsync: interrupted; the next `envsync apply` repairs any env left half-changed")
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 — anything else is our bug, and we say so
        if args.verbose:
            import traceback

            traceback.print_exc()
        out.notice(f"envsync: internal error (this is a bug in envsync {__version__}, please report it): "
                   f"{type(error).__name__}: {error}")
        return EXIT_ERROR


def _one_shot(command: str) -> None:
    """A command that ends within seconds runs without the cyclic garbage collector: reference
    counting frees everything but cycles, and a run leaves few (the peak memory of a cold lock of
    162 packages is the same either way), while the collector's passes over the objects a run
    builds (a large env's 28,000 planned files, 100,000 index files when locking) cost 5-10% of
    an apply. `watch` runs for hours: it keeps the collector."""
    if command != "watch":
        import gc

        gc.disable()


def run() -> NoReturn:
    """The `envsync` command (console script and `python -m envsync`): main(), then leave at once.

    Tearing down an interpreter that has imported envsync's modules costs 15 ms after a no-op
    plan and 30-40 ms after an apply (measured), and there is nothing left to tear down:
    every file is closed and every helper process stopped by the time main() returns. So once
    the output is flushed the process ends with os._exit. When any other non-daemon thread is
    still running (nothing in envsync leaves one, but a library might), the interpreter's
    normal exit, which waits for it, is used instead. In-process tests call main() itself."""
    code = main(owns_process=True)
    from envsync.dataclass_code import save

    save()  # the methods this run's dataclasses compiled, for the next runs (when __main__ installed it)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            _point_at_devnull(stream)
    threading = sys.modules.get("threading")  # not imported (a no-op plan): no thread was started
    if threading is not None and any(thread is not threading.main_thread() and not thread.daemon
                                     for thread in threading.enumerate()):
        sys.exit(code)
    os._exit(code)


def _print_json_error(error: EnvsyncError, out: Output) -> None:
    """Under --json an error is also a JSON object on stdout, so a program can tell it from "no changes"."""
    import json

    out.result(json.dumps({"version": 1, "error": {"message": error.message, "hint": error.hint}}, indent=2))


def _session(args: argparse.Namespace, out: Output) -> Session:
    from envsync.config.paths import find_config
    from envsync.state.session import open_session

    return open_session(find_config(args.config), progress=out.progress, warn=out.warn,
                        refresh=getattr(args, "refresh", False),
                        install_pythons=getattr(args, "command", "apply") in INSTALLS_PYTHONS,
                        skip_missing_pythons=getattr(args, "skip_missing_pythons", False))


# Commands that make envs install a missing Python; the others (plan, lock, ...) only plan its install.
INSTALLS_PYTHONS = frozenset({"apply", "run", "watch", "add", "remove"})


def _stamp(args: argparse.Namespace) -> Stamp | None:
    """The stamp proving the selected envs are still in sync, or None (take the full path)."""
    if args.refresh:
        return None
    from envsync.config.paths import find_config
    from envsync.state.stamp import still_in_sync

    return still_in_sync(find_config(args.config), args.envs)


def _full_plan(args: argparse.Namespace, out: Output) -> tuple[Session, Plan]:
    """Load, resolve (or read locks), survey and diff; stamp the result when all is in sync."""
    from envsync.state.reconcile import make_plan, record_in_sync

    session = _session(args, out)
    try:
        plan = make_plan(session, args.envs, _mode(args))
    except BaseException:
        session.close()  # stop background prefetches before reporting the error
        raise
    if not args.envs and not getattr(args, "frozen", False):
        record_in_sync(session, plan)
    return session, plan


def _mode(args: argparse.Namespace) -> LockMode:
    from envsync.state.reconcile import lock_mode

    return lock_mode(frozen=getattr(args, "frozen", False), locked=getattr(args, "locked", False))


def cmd_plan(args: argparse.Namespace, out: Output) -> int:
    from envsync.render import renderer, use_colour

    form = "json" if args.json else args.format or "text"
    if args.base is not None or not hasattr(renderer(form), "render_plan"):
        from envsync.commands import review

        return review.run(args, out)
    stamp = None if args.verbose else _stamp(args)  # -v says more than the stamp keeps: look in full
    if stamp is not None:
        from envsync.state.stamp import stamped_view

        if not stamp.envs and form == "text" and not args.envs:
            out.info(_NO_ENVS.format(name=os.path.basename(stamp.config)))
        elif form != "text" or not args.quiet:
            out.result(renderer(form).render_plan(stamped_view(stamp), use_colour(sys.stdout)))
        return EXIT_OK
    from envsync.render.view import plan_view

    session, plan = _full_plan(args, out)
    session.close()
    if form == "text" and not plan.entries and not plan.skipped and not plan.has_changes:
        out.info(_NO_ENVS.format(name=plan.config_path.name))
    elif form != "text" or not args.quiet:
        # -v asks for more detail than the plan says by default (the env's own project's startup hooks)
        out.result(renderer(form).render_plan({**plan_view(plan), "verbose": args.verbose}, use_colour(sys.stdout)))
    if plan.errors:
        for env in plan.errors:
            out.error(f"env {env.name}: {env.error}")
        return EXIT_ERROR
    return EXIT_CHANGES if args.detailed_exitcode and plan.has_changes else EXIT_OK


def cmd_apply(args: argparse.Namespace, out: Output) -> int:
    from envsync.commands.apply import apply_and_report
    from envsync.config.paths import find_config

    return apply_and_report(find_config(args.config), args.envs, out, frozen=args.frozen, locked=args.locked,
                            refresh=args.refresh, skip_missing_pythons=args.skip_missing_pythons)


def cmd_lock(args: argparse.Namespace, out: Output) -> int:
    from envsync.state.desired import Upgrade, desired_states
    from envsync.state.session import select_envs

    upgrade = Upgrade(everything=args.upgrade,
                      packages=frozenset(_normalise(name) for name in args.upgrade_package))
    session = _session(args, out)
    try:
        # An env of a solve group brings the group's other envs: their locks are made together.
        specs = select_envs(session.config, args.envs)
        if session.skip_missing_pythons:
            from envsync.state.missing_pythons import skip_missing_pythons

            specs, skipped = skip_missing_pythons(session.config, specs, session.interpreter)
            for entry in skipped:
                out.info(f"pylock.{entry.name}.toml not written: env {entry.name} skipped ({entry.reason})")
        for resolution in desired_states(session, specs, upgrade=upgrade, here=False).values():
            count = f"{len(resolution.desired.pins)} packages"
            if resolution.platforms:
                count = f"for {', '.join(resolution.platforms)}"
            if resolution.lock_write is None:
                out.info(f"{resolution.lock_path.name} is up to date ({count})")
            else:
                from envsync.resolve.lockfile import write_lock

                write_lock(resolution.lock_write)
                out.info(f"wrote {resolution.lock_path.name} ({count})")
    finally:
        session.close()
    return EXIT_OK


def _normalise(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def cmd_list(args: argparse.Namespace, out: Output) -> int:
    stamp = _stamp(args)
    if stamp is not None:
        from envsync.state.stamp import stamped_view

        envs = stamped_view(stamp)["envs"]
    else:
        from envsync.render.view import plan_view

        session, plan = _full_plan(args, out)
        session.close()
        envs = plan_view(plan)["envs"]
    matrices = [env["matrix"] for env in envs]
    rows = [(env["name"], env["path"], f"Python {env['python']}" if env["python"] else "-",
             _group_cell(env["solve_group"]), _status(env)) for env in envs]
    if not any(row[3] for row in rows):
        rows = [tuple(cell for position, cell in enumerate(row) if position != 3) for row in rows]  # no empty column
    # A matrix env's expansions are listed, indented, under a line naming the declared env and its values.
    rows = [(("  " + row[0]) if matrix else row[0], *row[1:]) for row, matrix in zip(rows, matrices, strict=True)]
    factors: dict[str, dict[str, list[str]]] = {}  # matrix env -> key -> its values, in the order written
    for matrix in filter(None, matrices):
        for key, value in _matrix_pairs(matrix):
            listed = factors.setdefault(matrix["of"], {}).setdefault(key, [])
            listed += [value] if value not in listed else []
    columns = len(rows[0]) - 1 if rows else 0
    widths = [max(len(row[i]) for row in rows) for i in range(columns)]
    shown = None
    for row, matrix in zip(rows, matrices, strict=True):
        if matrix and matrix["of"] != shown:
            keys = "; ".join(f"{key} {', '.join(values)}" for key, values in factors[matrix["of"]].items())
            out.result(f"{matrix['of']} (matrix: {keys})")
        shown = matrix["of"] if matrix else None
        out.result("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    if stamp is None and plan.errors:  # an env in error is a failure to report, as plan does
        for failed in plan.errors:
            out.error(f"env {failed.name}: {failed.error}")
        return EXIT_ERROR
    return EXIT_OK


def _matrix_pairs(matrix: dict[str, Any]) -> list[tuple[str, str]]:
    """An expansion's origin (as plan --json gives it) as (key, value) pairs: python first, then factors."""
    python = [("python", matrix["python"])] if "python" in matrix else []
    return [*python, *matrix.get("factors", {}).items()]


def _group_cell(group: str | None) -> str:
    return f"solve group {group}" if group else ""


def _status(env: dict[str, Any]) -> str:
    """An env's state for `list`, from its entry in the plan."""
    kinds = [action["action"] for action in env["actions"] if action["action"] != "write-lock"]
    if env.get("skipped"):
        return f"skipped ({env['skipped']})"
    if env.get("error"):
        return "error: not a virtual environment"
    if "create-env" in kinds:
        return "missing"
    if "remove-env" in kinds:
        return "undeclared (apply removes it)"
    if not kinds:
        return "in sync"
    return "drifted" + "".join(f"; {part}" for part in _drift(env["actions"]))


def _drift(actions: list[dict[str, Any]], shown: int = 3) -> list[str]:
    """What differs, package by package, for `list`: "upgrade demo 1.0 -> 2.0", "reinstall kit (why)"."""
    parts = []
    for action in actions:
        if "package" not in action:
            continue
        if "from" in action:
            versions = f" {action['from']} -> {action['to']}"
        elif action["action"] != "reinstall" and "version" in action:
            versions = f" {action['version']}"
        else:
            versions = ""
        reason = f" ({action['reason']})" if action.get("reason") else ""
        parts.append(f"{action['action']} {action['package']}{versions}{reason}")
    return parts[:shown] + ([f"{len(parts) - shown} more"] if len(parts) > shown else [])


def _module_command(name: str, needs_config: bool = True) -> Command:
    """A command carried out by envsync/commands/<name>.py's `run`, given a session when it needs one."""
    def command(args: argparse.Namespace, out: Output) -> int:
        import importlib

        module = importlib.import_module(f".commands.{name}", __package__)
        run: Callable[..., int] = module.run
        if not needs_config:
            return run(args, out)
        return run(args, out, _session(args, out))

    return command


def cmd_run(args: argparse.Namespace, out: Output) -> int:
    from envsync.commands.run import cmd_run as run

    # stdout belongs to the command run: what envsync says goes to stderr.
    return run(args, Output(args.quiet, args.verbose, results_to_stderr=True))


def cmd_watch(args: argparse.Namespace, out: Output) -> int:
    from envsync.commands.watch import cmd_watch as watch

    return watch(args, out)


COMMANDS = {"plan": cmd_plan, "apply": cmd_apply, "lock": cmd_lock, "list": cmd_list,
            "export": _module_command("export"), "freeze": _module_command("freeze"),
            "tree": _module_command("tree"), "init": _module_command("init", needs_config=False),
            "run": cmd_run, "watch": cmd_watch,
            "add": _module_command("edit"), "remove": _module_command("edit"),
            "python": _module_command("python", needs_config=False),
            "doctor": _module_command("doctor"), "cache": _module_command("cache")}

if __name__ == "__main__":
    sys.exit(main())
