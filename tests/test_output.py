"""One writer owns the terminal: events become whole lines, the status line is cleared first,
and a closed pipe silences the output without stopping or spoiling the work."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import REPO_ROOT, installed, run_envsync, write_config
from localindex import LocalIndex
from packaging.version import Version
from wheelfactory import WheelSpec

from envsync.cli import Output
from envsync.events import ActionDone, FetchProgress, Progress, StartupHookAdded, WaitingForLock, WheelsFetched
from envsync.model import Action, ActionKind
from envsync.render import event_text

INSTALL_LIB = Action(ActionKind.INSTALL, "lib", to_version=Version("2.0"))


@pytest.mark.parametrize(("event", "text"), [
    (ActionDone("dev", INSTALL_LIB), "dev: + install  lib 2.0"),
    (ActionDone("dev", Action(ActionKind.CREATE_ENV)), "dev: + create environment"),
    (StartupHookAdded("a", "hooky", "1.0", "hooky.pth"), "a: ! hooky 1.0 added startup hook hooky.pth"),
    (WaitingForLock(Path("/p/.envs/a"), "envsync (pid 7)"), "waiting for envsync (pid 7) to finish with /p/.envs/a"),
    (FetchProgress(14, 3, 2, 3_100_000), "fetched 5/14 wheels: 3 cached, 2 downloaded (3.1 MB)"),
    (WheelsFetched(12, 2, 3_100_000), "14 wheels: 12 cached, 2 downloaded (3.1 MB)"),
    (WheelsFetched(3, 0, 0), "3 wheels: 3 cached, 0 downloaded"),
    (WheelsFetched(0, 1, 20_000), "1 wheel: 0 cached, 1 downloaded (0.0 MB)"),
    (WheelsFetched(0, 0, 0, 1), "1 wheel: 1 built"),  # an editable project: built, nothing downloaded
    (WheelsFetched(12, 1, 3_100_000, 1), "14 wheels: 12 cached, 1 downloaded (3.1 MB), 1 built"),
    (FetchProgress(3, 1, 0, 0, 1), "fetched 2/3 wheels: 1 cached, 1 built"),
    (Progress("resolving dev for Python 3.12"), "resolving dev for Python 3.12"),
])
def test_every_event_is_one_line(event: object, text: str):
    assert event_text(event) == text  # type: ignore[arg-type]


class _SlowStream(io.StringIO):
    """Writes one character at a time and lets other threads run between them, as a busy terminal would."""

    def write(self, text: str) -> int:
        for char in text:
            super().write(char)
            time.sleep(0)
        return len(text)

    def isatty(self) -> bool:
        return False


def test_lines_from_many_threads_never_run_into_each_other(monkeypatch: pytest.MonkeyPatch):
    stream = _SlowStream()
    monkeypatch.setattr(sys, "stdout", stream)
    out = Output(quiet=False, verbose=False)
    envs = [f"env{n}" for n in range(6)]

    def worker(env: str) -> None:
        for _ in range(30):
            out.emit(ActionDone(env, INSTALL_LIB))

    threads = [threading.Thread(target=worker, args=(env,)) for env in envs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6 * 30
    assert all(re.fullmatch(r"env\d: \+ install  lib 2\.0", line) for line in lines), lines


def test_a_closed_stream_is_silenced_and_nothing_raises(monkeypatch: pytest.MonkeyPatch):
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Closed())
    monkeypatch.setattr(sys, "stderr", Closed())
    out = Output(quiet=False, verbose=True)
    out.emit(ActionDone("dev", INSTALL_LIB))
    out.emit(FetchProgress(3, 1, 0, 0))
    out.result("a plan")
    out.error("something")


# -- a real pipe, closed early ---------------------------------------------------------------


def _publish(index: LocalIndex, names: list[str]) -> None:
    for name in names:
        index.add(WheelSpec(name, "1.0", console_scripts={f"{name}-cli": f"{name}:main"}))


def _project(tmp_path: Path, index: LocalIndex, envs: dict[str, list[str]]) -> Path:
    project = tmp_path / "project"
    body = "".join(f'[envs.{env}]\ndependencies = {deps!r}\n'.replace("'", '"') for env, deps in envs.items())
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n{body}')
    return project


def _run_into_closed_pipe(project: Path, *args: str, close: str = "stdout") -> subprocess.CompletedProcess[str]:
    """Run envsync with `close` (stdout or stderr) going into a pipe whose reader has already gone,
    as `envsync ... | head -1` leaves it once head has read its line and exited."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    try:
        streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, close: write_end}
        process = subprocess.run([sys.executable, "-m", "envsync", *args], cwd=project, env=env, text=True,
                                 timeout=120, check=False, **streams)
    finally:
        os.close(write_end)
    return process


def test_list_into_a_closed_pipe_exits_quietly(tmp_path: Path, index: LocalIndex):
    _publish(index, ["alpha"])
    project = _project(tmp_path, index, {"a": ["alpha"], "b": ["alpha"]})
    for args in (("list",), ("list", "--refresh"), ("plan",), ("plan", "--json")):
        result = _run_into_closed_pipe(project, *args)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""


def test_apply_into_a_closed_pipe_finishes_the_work(tmp_path: Path, index: LocalIndex):
    names = [f"pkg{n}" for n in range(8)]
    _publish(index, names)
    project = _project(tmp_path, index, {"a": names[:5], "b": names[3:]})
    result = _run_into_closed_pipe(project, "apply")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert installed(project / ".envs" / "a") == {name: "1.0" for name in names[:5]}
    assert installed(project / ".envs" / "b") == {name: "1.0" for name in names[3:]}
    assert run_envsync("plan", "--detailed-exitcode", "--refresh", cwd=project).returncode == 0


def test_progress_into_a_closed_pipe_does_not_stop_apply(tmp_path: Path, index: LocalIndex):
    _publish(index, ["alpha", "beta"])
    project = _project(tmp_path, index, {"a": ["alpha", "beta"]})
    result = _run_into_closed_pipe(project, "apply", "-v", close="stderr")
    assert result.returncode == 0
    assert "a: + install  beta 1.0" in result.stdout
    assert installed(project / ".envs" / "a") == {"alpha": "1.0", "beta": "1.0"}


def test_apply_piped_to_head_keeps_working(tmp_path: Path, index: LocalIndex):
    """The shell's own `| head -2`: whenever head leaves, apply completes and says nothing more."""
    names = [f"pkg{n}" for n in range(6)]
    _publish(index, names)
    project = _project(tmp_path, index, {"a": names, "b": names})
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    shell = f"set -o pipefail 2>/dev/null; {sys.executable} -m envsync apply | head -2"
    result = subprocess.run(["bash", "-c", shell], cwd=project, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2 and result.stderr == ""
    assert run_envsync("plan", "--detailed-exitcode", "--refresh", cwd=project).returncode == 0


# -- what the user sees ----------------------------------------------------------------------


def test_apply_says_what_came_from_the_cache(tmp_path: Path, index: LocalIndex):
    _publish(index, ["alpha", "beta", "gamma"])
    project = _project(tmp_path, index, {"a": ["alpha", "beta", "gamma"]})
    cold = run_envsync("apply", cwd=project)
    assert cold.returncode == 0 and re.search(r"^3 wheels: 0 cached, 3 downloaded \(\d+\.\d MB\)$", cold.stdout,
                                              re.MULTILINE), cold.stdout
    shutil.rmtree(project / ".envs")
    warm = run_envsync("apply", cwd=project)
    assert warm.returncode == 0 and "3 wheels: 3 cached, 0 downloaded\n" in warm.stdout, warm.stdout


def _on_a_terminal(project: Path, *args: str) -> str:
    script = shutil.which("script")
    if script is None:
        pytest.skip("util-linux `script` is needed to run envsync on a pseudo-terminal")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("NO_COLOR", None)
    command = " ".join([sys.executable, "-m", "envsync", *args])
    result = subprocess.run([script, "-qec", command, "/dev/null"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout
    return result.stdout


def test_envs_side_by_side_write_whole_lines_on_a_terminal(tmp_path: Path, index: LocalIndex):
    names = [f"pkg{n}" for n in range(10)]
    _publish(index, names)
    project = _project(tmp_path, index, {env: names for env in ("web", "sci", "ops")})
    text = _on_a_terminal(project, "apply")
    # Escape sequences out, then every line that names an env must be exactly one action:
    # a line written into another, or into an uncleared status line, would not match.
    lines = re.split(r"[\r\n]+", re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text))
    mentions = [line for line in lines if re.search(r"(web|sci|ops):", line)]
    assert len(mentions) == 3 * 11, text
    for line in mentions:
        assert re.fullmatch(r"(web|sci|ops): \+ (create environment|install  pkg\d 1\.0)", line), repr(line)


def test_plan_clears_the_status_line_before_printing(tmp_path: Path, index: LocalIndex):
    _publish(index, ["alpha"])
    project = _project(tmp_path, index, {"a": ["alpha"]})
    text = _on_a_terminal(project, "plan")
    status = text.rindex("resolving a for Python")
    header = text.index("env a (")
    assert "\x1b[K" in text[status:header], repr(text)  # `script` turns the "\r" before it into a newline


# -- leaving: the command ends without tearing the interpreter down ----------------------------


def _run_entry_point(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, text=True, capture_output=True,
                          timeout=60, check=False)


def test_the_command_flushes_its_output_before_it_leaves(tmp_path: Path):
    """`run` ends the process with os._exit: output still in Python's buffers must reach the file."""
    out = tmp_path / "out.txt"
    script = (f"import sys; sys.stdout = open({str(out)!r}, 'w', buffering=1 << 20); "
              "sys.argv = ['envsync']; from envsync.cli import run; run()")
    result = _run_entry_point(script, tmp_path)
    assert result.returncode == 1, result.stderr  # no command: the help, and exit 1
    assert out.read_text().startswith("usage: envsync")


def test_the_command_waits_for_a_thread_still_working(tmp_path: Path):
    """A non-daemon thread a library left running finishes its work: then the normal exit is used."""
    marker = tmp_path / "finished"
    script = ("import sys, threading, time, pathlib\n"
              f"def work():\n    time.sleep(0.5); pathlib.Path({str(marker)!r}).write_text('done')\n"
              "threading.Thread(target=work).start()\n"
              "sys.argv = ['envsync']\nfrom envsync.cli import run\nrun()\n")
    result = _run_entry_point(script, tmp_path)
    assert result.returncode == 1, result.stderr
    assert marker.read_text() == "done"


def test_a_one_shot_command_runs_without_the_cycle_collector(tmp_path: Path, index: LocalIndex):
    """`run` (a process of its own) turns the cyclic collector off for every command but `watch`;
    main() called in-process, as here, leaves it alone."""
    import gc

    _publish(index, ["alpha"])
    project = _project(tmp_path, index, {"a": ["alpha"]})
    from envsync.cli import _one_shot, main

    assert main(["list", "-c", str(project / "envs.toml")]) == 0
    assert gc.isenabled()
    try:
        _one_shot("watch")
        assert gc.isenabled()
        _one_shot("apply")
        assert not gc.isenabled()
    finally:
        gc.enable()
