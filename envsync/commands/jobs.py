"""Running commands inside envs: one env's job (a command, or a script's lines), and a matrix in turn.

A job is what `run` does in one env: its steps (argv lists), the environment they get (the
env active, its env-vars set) and the folder they run in. Output is live here: each step
inherits envsync's stdin, stdout and stderr. `envsync/commands/parallel.py` runs the same
jobs side by side with their output captured.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from envsync.config.scripts import Step
from envsync.errors import EnvsyncError

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from envsync.cli import Output

INTERRUPTED = 130


@dataclass(frozen=True)
class Job:
    """The steps to run in one env (its folder `path`), with the environment and folder they run in."""

    env: str
    path: str
    steps: tuple[Step, ...]
    environ: Mapping[str, str]
    cwd: str | None = None  # None: envsync's own working directory (`run ENV -- CMD`)
    shown: str = ""  # what the header line says is being run

    def program(self, argv: Sequence[str]) -> str:
        """The program `argv` names, found as the env's shell would find it; an error with a hint if not."""
        if not os.path.isfile(os.path.join(self.path, "pyvenv.cfg")):
            raise EnvsyncError(f"{self.path} is not a virtual environment yet",
                               "run `envsync apply` (or `envsync run` without --no-sync) to create it")
        program = argv[0]
        if os.sep in program:
            return program if os.path.isabs(program) or self.cwd is None else os.path.join(self.cwd, program)
        import shutil

        found = shutil.which(program, path=self.environ.get("PATH"))
        if found is None:
            raise EnvsyncError(f"command {program!r} not found in {os.path.join(self.path, 'bin')} or on PATH",
                               _command_hint(program, self.path))
        return found


def activated_environ(env_path: str, environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` as `activate` would leave it: the env's bin/ first on PATH, VIRTUAL_ENV set, PYTHONHOME gone."""
    result = dict(environ)
    bin_dir = os.path.join(env_path, "bin")
    result["PATH"] = os.pathsep.join([bin_dir, *([environ["PATH"]] if environ.get("PATH") else [])])
    result["VIRTUAL_ENV"] = env_path
    result.pop("PYTHONHOME", None)
    return result


def exec_job(job: Job) -> None:
    """Replace this process with the job's one step: it gets our pid, so stdin/stdout/stderr and every
    signal reach it directly, and its exit code is ours."""
    (step,) = job.steps
    found = job.program(step.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if job.cwd is not None:
            os.chdir(job.cwd)
        os.execve(found, list(step.argv), dict(job.environ))
    except OSError as exc:
        raise EnvsyncError(f"cannot run {step.argv[0]!r} ({found}): {exc.strerror or exc}",
                           "check that it is an executable file") from exc


def run_steps(job: Job, out: Output) -> int:
    """Run the job's steps in order, output live; the exit code of the first that fails (a `- ` step
    may fail and the next one runs), else 0. A signal that killed a step is a negative code."""
    import subprocess  # not at the top: `run ENV -- CMD` execs, and never needs it

    for step in job.steps:
        if len(job.steps) > 1:
            out.info(f"$ {'- ' if step.may_fail else ''}{shlex.join(step.argv)}")
        program = job.program(step.argv)
        try:
            code = subprocess.run(list(step.argv), executable=program, env=dict(job.environ), cwd=job.cwd,
                                  check=False).returncode
        except OSError as exc:
            raise EnvsyncError(f"cannot run {step.argv[0]!r} ({program}): {exc.strerror or exc}",
                               "check that it is an executable file") from exc
        if code != 0 and step.may_fail:
            out.info(f"{step.argv[0]} failed ({describe(code)}); going on: its line starts with `- `")
        elif code != 0:
            return code
    return 0


def describe(code: int) -> str:
    """A step's exit code in words: `exit 3`, `killed by SIGKILL`."""
    if code >= 0:
        return f"exit {code}"
    import signal

    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def result_word(code: int) -> str:
    return "ok" if code == 0 else f"failed ({describe(code)})"


def summary_line(results: Sequence[tuple[str, str]]) -> str:
    return "==> summary: " + ", ".join(f"{name}: {result}" for name, result in results)


def exit_code(results: Sequence[tuple[str, str]], interrupted: bool) -> int:
    """130 after Ctrl-C; else 0 when every run succeeded, 1 when any did not."""
    if interrupted:
        return INTERRUPTED
    return 0 if all(result == "ok" for _, result in results) else 1


def run_each(jobs: Sequence[Job], out: Output) -> int:
    """Run each job in turn, output live, a header line before each, then one summary line.

    Every env gets its run, whatever the others did; the exit code is 0 when every run
    succeeded, else 1 (each run's own code is in the summary). Ctrl-C stops after the
    run it interrupted, and exits 130."""
    results: list[tuple[str, str]] = []
    interrupted = False
    for job in jobs:
        out.info(f"==> {job.env}: {job.shown}")
        try:
            results.append((job.env, result_word(run_steps(job, out))))
        except KeyboardInterrupt:
            results.append((job.env, "interrupted"))
            interrupted = True
            break
        except EnvsyncError as error:
            out.error(error)
            results.append((job.env, "not run"))
    out.result(summary_line(results))
    return exit_code(results, interrupted)


def _command_hint(program: str, env_path: str) -> str:
    import difflib

    try:
        scripts = sorted(os.listdir(os.path.join(env_path, "bin")))
    except OSError:
        scripts = []
    close = difflib.get_close_matches(program, scripts, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "add the package that provides it to the env's dependencies in envs.toml"
