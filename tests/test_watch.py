"""`envsync watch`, driven for real: a subprocess watching a config that the test edits on disk."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import REPO_ROOT, installed, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

DEADLINE = float(os.environ.get("DL", 60))  # seconds to wait for an expected line or state; never a claim about speed


class Watch:
    """A running `envsync watch`, its stdout and stderr merged and read line by line."""

    def __init__(self, project: Path, *args: str) -> None:
        merged = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.process = subprocess.Popen([sys.executable, "-m", "envsync", "watch", *args], cwd=project, env=merged,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, wanted: Callable[[str], bool] | str) -> str:
        """The next line that matches (a substring or a predicate); fails after the deadline or at exit."""
        test = wanted if callable(wanted) else (lambda line: wanted in line)
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"watch exited ({self.process.wait()}) before {wanted!r}: {self.lines}")
            self.lines.append(line)
            if test(line):
                return line
        raise AssertionError(f"no line {wanted!r} within {DEADLINE}s: {self.lines}")

    def stop(self, signum: int = signal.SIGINT) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=DEADLINE)
        while (line := self._queue.get(timeout=DEADLINE)) is not None:
            self.lines.append(line)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("tool", "0.5", console_scripts={"tool": "tool:main"}))
    folder = tmp_path / "project"
    configure(folder, index, [])
    return folder


def configure(project: Path, index: LocalIndex, dependencies: list[str], extra: str = "") -> None:
    listed = ", ".join(f'"{name}"' for name in dependencies)
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = [{listed}]\n{extra}')


@pytest.fixture
def watch(project: Path):
    started: list[Watch] = []

    def start(*args: str) -> Watch:
        running = Watch(project, *args)
        started.append(running)
        running.wait_for("watching ")  # after the first apply, once the watcher is in place
        return running

    yield start
    for running in started:
        running.close()


def test_an_edit_is_applied_and_a_broken_config_waits_for_the_next_good_save(project, index, watch):
    running = watch()
    env = project / ".envs" / "dev"
    configure(project, index, ["lib"])
    assert running.wait_for("dev: ").startswith("dev: +lib 1.0 (")
    assert installed(env) == {"lib": "1.0"}

    (project / "envs.toml").write_text("")  # an editor between truncating and writing: not "no envs"
    running.wait_for("envs.toml is empty or missing; waiting for the next save")
    assert installed(env) == {"lib": "1.0"}
    (project / "envs.toml").write_text('[settings]\nindex-url = "x"\n[envs.dev]\ndependencies = [\n')
    assert "invalid TOML" in running.wait_for("envsync: error: envs.toml")
    configure(project, index, ["lib>>2"])
    assert "not a valid PEP 508 requirement" in running.wait_for("envsync: error: envs.toml")
    configure(project, index, ["lib", "nothing-like-this"])
    running.wait_for("envsync: error: ")
    assert running.process.poll() is None
    assert installed(env) == {"lib": "1.0"}

    configure(project, index, ["lib"])  # the error mended, and nothing to change: said so
    assert running.wait_for("fixed: ").startswith("fixed: in sync (")
    configure(project, index, ["lib", "nothing-like-this"])
    running.wait_for("envsync: error: ")
    configure(project, index, ["tool"])  # mended with a change: said, with the change
    assert running.wait_for("fixed: ").startswith("fixed: dev: +tool 0.5, -lib 1.0 (")
    assert installed(env) == {"tool": "0.5"}
    configure(project, index, ["tool"], extra="# a comment changes no env\n")
    running.wait_for("in sync (")
    assert running.stop() == 0
    assert running.lines[-1] == "stopped"


def test_two_quick_saves_give_one_apply(project, index, watch):
    running = watch()
    configure(project, index, ["lib"])
    configure(project, index, ["lib", "tool"])
    running.wait_for(lambda line: "+tool 0.5" in line)
    configure(project, index, ["lib", "tool"], extra="# marker\n")  # everything before it has been printed
    running.wait_for("in sync (")
    applies = [line for line in running.lines if line.startswith("dev: ")]
    assert applies[1:] == [next(line for line in applies if "+tool" in line)]
    assert "+lib 1.0" in applies[1] and len(applies) == 2  # created, then both saves in one apply
    assert installed(project / ".envs" / "dev") == {"lib": "1.0", "tool": "0.5"}


def test_an_env_held_by_another_process_is_waited_for(project, index, watch):
    from envsync.install.apply import env_lock

    running = watch()
    env = project / ".envs" / "dev"
    with env_lock(env, lambda _: None):
        configure(project, index, ["lib"])
        running.wait_for("waiting for envsync (pid ")
        assert installed(env) == {}
    assert running.wait_for("dev: ").startswith("dev: +lib 1.0")
    assert installed(env) == {"lib": "1.0"}


def test_ctrl_c_during_an_apply_exits_130_and_when_idle_0(project, index, watch):
    from envsync.install.apply import env_lock

    running = watch()
    env = project / ".envs" / "dev"
    with env_lock(env, lambda _: None):
        configure(project, index, ["lib"])
        running.wait_for("waiting for")
        assert running.stop() == 130
    assert "interrupted" in running.lines[-1]
    assert installed(env) == {}

    again = watch()
    assert "dev: +lib 1.0 (" in again.lines[0]  # a new watch applies what the interrupted one did not
    assert again.stop(signal.SIGTERM) == 0


def test_an_edit_to_a_requirements_file_in_another_folder_is_applied(project, index, watch):
    """Requirements files the config names are inputs too, wherever they are; a new one is
    watched from the round that first reads it."""
    (project / "reqs").mkdir()
    (project / "reqs" / "base.txt").write_text("lib\n")
    configure(project, index, [], extra='requirements = ["reqs/base.txt"]\n')
    running = watch()
    env = project / ".envs" / "dev"
    assert installed(env) == {"lib": "1.0"}
    (project / "reqs" / "base.txt").write_text("lib\ntool\n")
    assert running.wait_for("dev: ").startswith("dev: +tool 0.5 (")
    assert installed(env) == {"lib": "1.0", "tool": "0.5"}
    (project / "reqs" / "base.txt").write_text("tool\n")
    assert running.wait_for("dev: ").startswith("dev: -lib 1.0 (")
    assert installed(env) == {"tool": "0.5"}
    assert running.stop() == 0
