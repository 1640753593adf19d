#!/usr/bin/env python3
"""Measure envsync side by side with uv and pip, in one run, and print Markdown tables.

    python3 benchmarks/run.py                                  # every scenario, small+medium+large, 5 runs
    python3 benchmarks/run.py --scenario noop,install --workload small --repeat 3
    python3 benchmarks/run.py --workload large --pip-repeat 1  # pip is slow on large
    python3 benchmarks/run.py --offline                        # synthetic wheels on a 127.0.0.1 index

The report is printed and written to benchmarks/.work/last-run.md. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import log_to_stderr
from report import Table, render_report
from scale import SCALE_SCENARIOS
from scenarios import SCENARIOS as FIRST_SCENARIOS
from scenarios import Context
from tools import REPO_ROOT, Toolchain, find_python, install_pip_tools, real_executable, version_of
from workloads import NAMES, PYPI_EXTRAS, WORKLOADS_DIR, Workload, load_workloads

BENCH_DIR = Path(__file__).resolve().parent
SCENARIOS = {**FIRST_SCENARIOS, **SCALE_SCENARIOS}
WORK_DIR = BENCH_DIR / ".work"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="all",
                        help=f"comma-separated, from {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--workload", default=",".join(NAMES),
                        help="comma-separated, from small,medium,large,xl (default: small,medium,large)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tool (default 5)")
    parser.add_argument("--pip-repeat", type=int, default=None,
                        help="timed runs for pip install and pip-compile, which are slow (default: --repeat)")
    parser.add_argument("--offline", action="store_true",
                        help="use synthetic wheels on a local index on 127.0.0.1 instead of PyPI")
    parser.add_argument("--python", help="interpreter every venv is made from (default: python3.11 on PATH)")
    parser.add_argument("--envsync-cmd", default=f"{shlex.quote(sys.executable)} -m envsync",
                        help="how to run envsync, from the repository root or the --envsync-ref snapshot "
                             "(default: this Python -m envsync)")
    parser.add_argument("--envsync-ref", metavar="GITREF",
                        help="measure envsync as committed at GITREF (a snapshot under .work/), not the working tree")
    parser.add_argument("--no-pip-tools", action="store_true", help="skip pip-sync and pip-compile")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before one command counts as failed")
    parser.add_argument("--output", type=Path, default=WORK_DIR / "last-run.md", help="where to write the report")
    args = parser.parse_args(argv)
    args.scenarios = list(SCENARIOS) if args.scenario == "all" else split(args.scenario)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    args.workloads = split(args.workload)
    if args.repeat < 1 or (args.pip_repeat is not None and args.pip_repeat < 1):
        parser.error("--repeat and --pip-repeat must be at least 1")
    return args


def split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else "?"


def envsync_revision(ref: str | None) -> str:
    """The commit envsync is measured at, flagged when it is the working tree with uncommitted changes."""
    if ref:
        return f"{git('rev-parse', '--short', ref)} ({ref}, committed snapshot)"
    dirty = git("status", "--porcelain", "--", "envsync")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes in envsync/" if dirty else "")


def envsync_snapshot(ref: str) -> Path:
    """envsync/ as committed at `ref`, extracted once into .work/envsync-<commit>/."""
    commit = git("rev-parse", ref)
    if commit == "?":
        raise SystemExit(f"run.py: --envsync-ref {ref!r} is not a commit of {REPO_ROOT}")
    target = WORK_DIR / f"envsync-{commit[:12]}"
    if not (target / "envsync" / "__main__.py").is_file():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", commit, "envsync"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def compile_bytecode(envsync: tuple[str, ...], cwd: Path) -> str:
    """Write envsync's bytecode before timing it, as installing a package does.

    Run from a checkout, a module edited since its .pyc was written is compiled again on every
    run when PYTHONDONTWRITEBYTECODE is set (it is on these machines): 40 stale modules added
    about 0.1 s to every envsync run measured, a cost no installed envsync has.
    """
    python = envsync[0] if envsync[1:3] == ("-m", "envsync") else None
    if python is None:
        return "envsync bytecode: left as it is (--envsync-cmd is not `<python> -m envsync`)"
    subprocess.run([python, "-m", "compileall", "-q", "envsync"], cwd=cwd, check=True, capture_output=True)
    return "envsync bytecode: compiled before timing (`python -m compileall envsync`), as an install does"


def machine_header(args: argparse.Namespace, tools: Toolchain, notes: list[str]) -> list[str]:
    """Date, machine, tool versions and the run's settings, as Markdown lines."""
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout.strip("\n")
    python = str(tools.python)
    pip_version = version_of([python, "-c", "import ensurepip; print(ensurepip.version())"])
    lines = [
        f"- date: {datetime.datetime.now().astimezone():%a %d %b %Y %H:%M:%S %Z}",
        f"- machine: {platform.platform()}, nproc {os.cpu_count()}, load average at start "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- python (every venv): {python} ({version_of([python, '--version'])})",
        f"- envsync: {version_of([*tools.envsync, '--version'], tools.envsync_cwd)} at "
        f"{envsync_revision(args.envsync_ref)}, "
        f"run as `{shlex.join(tools.envsync)}`",
        f"- uv: {version_of([str(tools.uv), '--version']) if tools.uv else 'not found'}",
        f"- pip (in venvs made by `python -m venv`): {pip_version}",
        *(f"- {note}" for note in notes),
        f"- index: {tools.index_url or 'PyPI'}; repeat {args.repeat}, pip repeat {args.pip_repeat or args.repeat}",
        "",
        "```", f"$ free -h\n{free}", "```",
    ]
    return lines


def make_toolchain(args: argparse.Namespace, work: Path, index_url: str | None) -> tuple[Toolchain, list[str]]:
    python = find_python(args.python)
    notes: list[str] = []
    pip_tools_bin = None
    if args.no_pip_tools:
        notes.append("pip-tools: skipped (--no-pip-tools)")
    else:
        pip_tools_bin, note = install_pip_tools(python, WORK_DIR / "tools" / "pip-tools",
                                                WORK_DIR / "tools" / "pip-cache", args.offline)
        notes.append(note)
    envsync = tuple(shlex.split(args.envsync_cmd))
    envsync_cwd = envsync_snapshot(args.envsync_ref) if args.envsync_ref else REPO_ROOT
    notes.append(compile_bytecode(envsync, envsync_cwd))
    tools = Toolchain(python, envsync, envsync_cwd, real_executable("uv"), pip_tools_bin, work / "cache", index_url)
    return tools, notes


def run_scenarios(args: argparse.Namespace, ctx: Context, workloads: list[Workload], header: list[str]) -> list[Table]:
    """Every selected scenario on every selected workload; the report is rewritten after each scenario."""
    tables: list[Table] = []
    for name in args.scenarios:
        scenario = SCENARIOS[name]
        table = Table(scenario.title, scenario.about, metric=scenario.metric)
        tables.append(table)
        for workload in workloads:
            ctx.log(f"[{name}] {workload.name}")
            table.rows += scenario.run(ctx, workload)
        write_report(args.output, render_report(header, tables))
    return tables


def write_report(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = WORK_DIR / ("offline" if args.offline else "pypi")
    work.mkdir(parents=True, exist_ok=True)
    universe = None
    if args.offline:
        import offline  # imports tests/localindex.py, which needs `packaging`

        shutil.rmtree(work / "universe", ignore_errors=True)
        universe = offline.start(work / "universe")
        workloads = load_workloads(universe.workloads_dir, args.workloads, universe.extras)
    else:
        workloads = load_workloads(WORKLOADS_DIR, args.workloads, PYPI_EXTRAS)
    try:
        tools, notes = make_toolchain(args, work, universe.index.url if universe else None)
        header = machine_header(args, tools, notes)
        ctx = Context(tools, work, args.repeat, args.pip_repeat or args.repeat, args.timeout, log_to_stderr)
        tables = run_scenarios(args, ctx, workloads, header)
    finally:
        if universe is not None:
            universe.stop()
    report = render_report(header, tables)
    write_report(args.output, report)
    print(report)
    log_to_stderr(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
