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
    plan.add_argument("--format", choices=("text", "json", "markdown"),
                      help="with --base: text (default), json, or markdown for a pull-request comment")
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

    # add and remove (envsync/commands/edit.py): edit one env's dependencies in envs.toml, then sync it.
    for name, text in (("add", "add packages to an env's dependencies, then lock and apply it"),
                       ("remove", "remove packages from an env's dependencies, then lock and apply it")):
        edit = commands.add_parser(name, parents=[common], help=text)
        edit.add_argument("packages", nargs="+", metavar="PKG")
        edit.add_argument("--env", metavar="ENV", help="the env to edit (may be left out when there is one)")
        edit.add_argument("--no-sync", action="store_true", help="only edit envs.toml; lock and apply later")
    return parser


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

    def _results(self):
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
        from envsync.render import event_text

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


def _print_json_error(error: EnvsyncError, out: Output) -> None:
    """Under --json an error is also a JSON object on stdout, so a program can tell it from "no changes"."""
    import json

    out.result(json.dumps({"version": 1, "error": {"message": error.message, "hint": error.hint}}, indent=2))


def _session(args: argparse.Namespace, out: Output):
    from envsync.config.paths import find_config
    from envsync.state.session import open_session

    return open_session(find_config(args.config), progress=out.progress, warn=out.warn,
                        refresh=getattr(args, "refresh", False))


def _stamp(args: argparse.Namespace):
    """The stamp proving the selected envs are still in sync, or None (take the full path)."""
    if args.refresh:
        return None
    from envsync.config.paths import find_config
    from envsync.state.stamp import still_in_sync

    return still_in_sync(find_config(args.config), args.envs)


def _full_plan(args: argparse.Namespace, out: Output):
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


def _mode(args: argparse.Namespace):
    from envsync.state.reconcile import lock_mode

    return lock_mode(frozen=getattr(args, "frozen", False), locked=getattr(args, "locked", False))


def cmd_plan(args: argparse.Namespace, out: Output) -> int:
    if args.base is not None or args.format is not None:
        from envsync.commands import review

        return review.run(args, out)
    stamp = _stamp(args)
    if stamp is not None:
        return _print_stamped(args, stamp, out)
    from envsync.render import render_json, render_text, use_colour

    session, plan = _full_plan(args, out)
    session.close()
    if args.json:
        out.result(render_json(plan))
    elif not plan.entries and not plan.has_changes:
        out.info(_NO_ENVS.format(name=plan.config_path.name))
    elif not args.quiet:
        out.result(render_text(plan, use_colour(sys.stdout)))
    if plan.errors:
        for env in plan.errors:
            out.error(f"env {env.name}: {env.error}")
        return EXIT_ERROR
    return EXIT_CHANGES if args.detailed_exitcode and plan.has_changes else EXIT_OK


def _print_stamped(args: argparse.Namespace, stamp, out: Output) -> int:
    """Print the in-sync plan of the selected envs from the stamp, importing nothing heavy."""
    # Solve groups in the order their first selected env comes, as the full plan shows them.
    groups = {group["name"]: group for group in stamp.groups}
    order = [name for name in dict.fromkeys(env.document.get("solve_group") for env in stamp.envs) if name in groups]
    if not stamp.envs and not args.json and not args.envs:
        out.info(_NO_ENVS.format(name=os.path.basename(stamp.config)))
    elif args.json:
        import json

        shown = os.path.relpath(stamp.config)
        envs = [env.document for env in stamp.envs]
        out.result(json.dumps({"version": 1, "config": shown, "envs": envs,
                          "solve_groups": [groups[name]["document"] for name in order],
                          "summary": stamp.summary, "changes_pending": False}, indent=2))
    elif not args.quiet:
        lines = []
        for env in stamp.envs:
            group = groups.pop(env.document.get("solve_group"), None)
            lines += [*(group["lines"] if group else ()), env.text]
        out.result("\n".join([*lines, "", stamp.closing]))
    return EXIT_OK


def cmd_apply(args: argparse.Namespace, out: Output) -> int:
    from envsync.commands.apply import apply_and_report
    from envsync.config.paths import find_config

    return apply_and_report(find_config(args.config), args.envs, out, frozen=args.frozen, locked=args.locked,
                            refresh=args.refresh)


def cmd_lock(args: argparse.Namespace, out: Output) -> int:
    from envsync.state.desired import Upgrade, desired_states
    from envsync.state.session import select_envs

    upgrade = Upgrade(everything=args.upgrade,
                      packages=frozenset(_normalise(name) for name in args.upgrade_package))
    session = _session(args, out)
    try:
        # An env of a solve group brings the group's other envs: their locks are made together.
        specs = select_envs(session.config, args.envs)
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
        matrices = [env.document.get("matrix") for env in stamp.envs]
        rows = [(env.name, env.display_path, f"Python {env.python}" if env.python else "-",
                 _group_cell(env.document.get("solve_group")), "in sync") for env in stamp.envs]
    else:
        from envsync.render import matrix_of, solve_group_of

        session, plan = _full_plan(args, out)
        session.close()
        matrices = [matrix_of(env) for env in plan.entries]
        rows = [(env.name, env.display_path, f"Python {env.python}" if env.python else "-",
                 _group_cell(solve_group_of(env)), _status(env)) for env in plan.entries]
    if not any(row[3] for row in rows):
        rows = [tuple(cell for position, cell in enumerate(row) if position != 3) for row in rows]  # no empty column
    # A matrix env's expansions are listed, indented, under a line naming the declared env.
    rows = [(("  " + row[0]) if matrix else row[0], *row[1:]) for row, matrix in zip(rows, matrices, strict=True)]
    pythons: dict[str, list[str]] = {}
    for matrix in matrices:
        if matrix:
            pythons.setdefault(matrix["of"], []).append(matrix["python"])
    columns = len(rows[0]) - 1 if rows else 0
    widths = [max(len(row[i]) for row in rows) for i in range(columns)]
    shown = None
    for row, matrix in zip(rows, matrices, strict=True):
        if matrix and matrix["of"] != shown:
            out.result(f"{matrix['of']} (matrix: python {', '.join(pythons[matrix['of']])})")
        shown = matrix["of"] if matrix else None
        out.result("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    if stamp is None and plan.errors:  # an env in error is a failure to report, as plan does
        for env in plan.errors:
            out.error(f"env {env.name}: {env.error}")
        return EXIT_ERROR
    return EXIT_OK


def _group_cell(group: str | None) -> str:
    return f"solve group {group}" if group else ""


def _status(env) -> str:
    """An env's one-word state for `list`."""
    from envsync.model import ActionKind

    kinds = {action.kind for action in env.actions}
    if env.error:
        return "error: not a virtual environment"
    if ActionKind.CREATE_ENV in kinds:
        return "missing"
    if ActionKind.REMOVE_ENV in kinds:
        return "undeclared (apply removes it)"
    if not env.actions:
        return "in sync"
    reinstalls = "".join(f"; reinstall {a.package} ({a.reason})" for a in env.actions if a.kind is ActionKind.REINSTALL)
    return "drifted" + reinstalls


def _module_command(name: str, needs_config: bool = True):
    """A command carried out by envsync/commands/<name>.py's `run`, given a session when it needs one."""
    def command(args: argparse.Namespace, out: Output) -> int:
        import importlib

        module = importlib.import_module(f".commands.{name}", __package__)
        if not needs_config:
            return module.run(args, out)
        return module.run(args, out, _session(args, out))

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
            "add": _module_command("edit"), "remove": _module_command("edit")}

if __name__ == "__main__":
    sys.exit(main())
