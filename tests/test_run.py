"""`envsync run [ENV] -- CMD`: sync through the no-op path, then become CMD inside the env."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT, installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    """One env, dev, that wants `tool` (a wheel with a console script); nothing applied yet."""
    index.add(WheelSpec("tool", "0.5", console_scripts={"tool": "tool:main"}))
    index.add(WheelSpec("lib", "1.0"))
    folder = tmp_path / "project"
    write_config(folder, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["tool"]\n')
    return folder


def envsync(project: Path, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return run_envsync(*args, cwd=project, **kwargs)


def test_run_syncs_the_env_then_runs_a_console_script_from_it(project: Path):
    result = envsync(project, "run", "dev", "--", "tool")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "tool 0.5\n"  # apply's report goes to stderr: stdout is the command's
    assert "+ install  tool 0.5" in result.stderr
    assert installed(project / ".envs" / "dev") == {"tool": "0.5"}
    again = envsync(project, "run", "--", "tool")  # one env: ENV may be left out
    assert again.returncode == 0 and again.stdout == "tool 0.5\n" and again.stderr == ""


def test_run_follows_an_edit_of_the_config(project: Path, index: LocalIndex):
    assert envsync(project, "run", "dev", "--", "tool").returncode == 0
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["lib"]\n')
    result = envsync(project, "run", "dev", "--", "python", "-c", "import lib; print('lib ok')")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "lib ok\n"
    assert installed(project / ".envs" / "dev") == {"lib": "1.0"}


def test_the_commands_exit_code_is_envsyncs(project: Path):
    for code in (0, 3, 42):
        result = envsync(project, "run", "dev", "--", "python", "-c", f"import sys; sys.exit({code})")
        assert result.returncode == code, result.stderr


def test_the_command_sees_the_env_active(project: Path):
    script = ("import json, os, sys; print(json.dumps({'prefix': sys.prefix, 'venv': os.environ.get('VIRTUAL_ENV'),"
              " 'path0': os.environ['PATH'].split(os.pathsep)[0], 'home': os.environ.get('PYTHONHOME')}))")
    # PYTHONHOME set before envsync starts would break envsync's own interpreter: set it once it runs.
    launcher = ("import os, sys; os.environ['PYTHONHOME'] = '/nowhere'; from envsync.cli import main; "
                "sys.exit(main(sys.argv[1:]))")
    merged = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", launcher, "run", "dev", "--", "python", "-c", script],
                            cwd=project, env=merged, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    import json

    seen = json.loads(result.stdout)
    env = str(project / ".envs" / "dev")
    assert seen == {"prefix": env, "venv": env, "path0": os.path.join(env, "bin"), "home": None}


def test_stdin_passes_straight_through(project: Path):
    merged = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-m", "envsync", "run", "dev", "--", "python", "-c",
                             "import sys; print(sys.stdin.read().upper(), end='')"],
                            cwd=project, env=merged, input="hello\nworld\n", capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "HELLO\nWORLD\n"


def test_sigterm_reaches_the_command(project: Path):
    assert envsync(project, "apply").returncode == 0
    merged = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = ("import signal, sys, time\n"
             "def stop(*_):\n    print('got SIGTERM', flush=True); sys.exit(7)\n"
             "signal.signal(signal.SIGTERM, stop)\nprint('ready', flush=True)\ntime.sleep(120)\n")
    process = subprocess.Popen([sys.executable, "-m", "envsync", "run", "dev", "--", "python", "-c", child],
                               cwd=project, env=merged, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 7
        assert process.stdout.read() == "got SIGTERM\n"
    finally:
        process.kill()
        process.wait()


def test_no_sync_runs_the_env_as_it_is(project: Path, index: LocalIndex):
    assert envsync(project, "apply").returncode == 0
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["lib"]\n')
    result = envsync(project, "run", "dev", "--no-sync", "--", "tool")
    assert result.returncode == 0 and result.stdout == "tool 0.5\n", result.stderr
    assert installed(project / ".envs" / "dev") == {"tool": "0.5"}


def test_frozen_installs_from_the_lock_only(project: Path):
    result = envsync(project, "run", "--frozen", "dev", "--", "tool")
    assert result.returncode == 1
    assert "pylock.dev.toml does not exist, and --frozen installs only from a lock" in result.stderr
    assert not (project / ".envs").exists()


def test_unknown_env_gets_a_did_you_mean(project: Path):
    result = envsync(project, "run", "dve", "--", "python", "-c", "pass")
    assert result.returncode == 1
    assert "no env named 'dve'" in result.stderr and "did you mean 'dev'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_must_be_named_when_there_are_several(project: Path, index: LocalIndex):
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["tool"]\n'
                          '[envs.docs]\ndependencies = ["lib"]\n')
    result = envsync(project, "run", "--", "tool")
    assert result.returncode == 1
    assert "declares 2 envs (dev, docs): say which one" in result.stderr


def test_unknown_command_is_named_with_a_did_you_mean(project: Path):
    result = envsync(project, "run", "dev", "--", "tol")
    assert result.returncode == 1
    assert "command 'tol' not found in" in result.stderr and "did you mean 'tool'?" in result.stderr
    far = envsync(project, "run", "dev", "--", "no-such-command-anywhere")
    assert far.returncode == 1 and "command 'no-such-command-anywhere' not found" in far.stderr
    assert "Traceback" not in far.stderr


def test_the_command_must_follow_a_double_dash(project: Path):
    result = envsync(project, "run", "dev", "tool")
    assert result.returncode == 1 and "needs `--` before the command" in result.stderr
