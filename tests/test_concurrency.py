"""Two envsync processes at once: the same env never interleaves, different envs proceed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import REPO_ROOT, installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.install.apply import env_lock


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "envsync", *args], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def setup(tmp_path: Path, index: LocalIndex) -> Path:
    for name in ("alpha", "beta", "gamma"):
        index.add(WheelSpec(name, "1.0"))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n'
                          '[envs.a]\ndependencies = ["alpha", "beta"]\n[envs.b]\ndependencies = ["beta", "gamma"]\n')
    assert run_envsync("lock", cwd=project).returncode == 0
    return project


def test_second_apply_on_the_same_env_waits_and_says_for_whom(tmp_path: Path, index: LocalIndex):
    project = setup(tmp_path, index)
    env_a = project / ".envs" / "a"
    with env_lock(env_a, lambda _: None):  # this test process holds env a, as a running apply would
        waiting = start(project, "apply", "a")
        line = ""
        while "waiting" not in line and waiting.poll() is None:
            line = waiting.stdout.readline()  # blocks until the waiting apply says something
        assert "waiting for envsync (pid" in line and str(env_a) in line
        # A different env is not blocked by env a's lock.
        other = run_envsync("apply", "b", cwd=project, timeout=60)
        assert other.returncode == 0, other.stderr
        assert installed(project / ".envs" / "b") == {"beta": "1.0", "gamma": "1.0"}
        assert waiting.poll() is None, "the apply on env a must still be waiting"
        assert not (env_a / "lib").exists(), "nothing may be installed while another holds the env"
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert installed(env_a) == {"alpha": "1.0", "beta": "1.0"}


def test_racing_applies_both_succeed_and_agree(tmp_path: Path, index: LocalIndex):
    project = setup(tmp_path, index)
    index.delay = 0.05  # both fetch at the same time into one cold cache
    racers = [start(project, "apply") for _ in range(3)]
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, out + err
        assert "Traceback" not in err
    assert installed(project / ".envs" / "a") == {"alpha": "1.0", "beta": "1.0"}
    assert installed(project / ".envs" / "b") == {"beta": "1.0", "gamma": "1.0"}
    plan = run_envsync("plan", "--detailed-exitcode", "--refresh", cwd=project)
    assert plan.returncode == 0
    cache = Path(os.environ["ENVSYNC_CACHE_DIR"])
    leftovers = [p for p in cache.rglob("*") if p.name.startswith((".tmp", ".tmp-"))]
    assert leftovers == []


def test_envs_applied_side_by_side_report_a_failure_and_finish_the_others(tmp_path: Path, index: LocalIndex):
    from helpers import make_venv

    project = setup(tmp_path, index)
    env_b = make_venv(project / ".envs" / "b")
    site = next(env_b.glob("lib/python*/site-packages"))
    (site / "gamma").mkdir()
    (site / "gamma" / "__init__.py").write_text("# a file no package owns\n")
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 1
    assert "refusing to overwrite existing files" in result.stderr and "gamma" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert installed(project / ".envs" / "a") == {"alpha": "1.0", "beta": "1.0"}
