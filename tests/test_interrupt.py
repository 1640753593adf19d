"""Ctrl-C during apply: queued work is dropped at once, exit 130, and every env is repairable.

The interrupt is a real SIGINT, sent by the process to itself at a named step
(ENVSYNC_TEST_STOP_AT=<step>:<count>:interrupt), so it lands at the same moment on any machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.errors import EnvsyncError
from envsync.install.checkpoints import StopAt, parse_stop_at


def _project(tmp_path: Path, index: LocalIndex, count: int) -> Path:
    for n in range(count):
        index.add(WheelSpec(f"pkg{n}", "1.0"))
    project = tmp_path / "project"
    deps = ", ".join(f'"pkg{n}"' for n in range(count))
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = [{deps}]\n')
    assert run_envsync("lock", cwd=project).returncode == 0  # resolved: apply only downloads and installs
    return project


def _interrupted_at(project: Path, step: str):
    result = run_envsync("apply", cwd=project, env={"ENVSYNC_TEST_STOP_AT": f"{step}:interrupt"})
    assert result.returncode == 130, result.stdout + result.stderr
    assert "interrupted" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result


def _heals(project: Path, count: int) -> None:
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "dev") == {f"pkg{n}": "1.0" for n in range(count)}
    plan = run_envsync("plan", "--json", "--refresh", cwd=project)
    assert json.loads(plan.stdout)["envs"][0]["actions"] == []


def test_ctrl_c_between_packages_stops_before_the_next(tmp_path: Path, index: LocalIndex):
    project = _project(tmp_path, index, 12)
    result = _interrupted_at(project, "installed:3")
    done = [line.split()[3] for line in result.stdout.splitlines() if line.startswith("dev: + install")]
    assert len(done) == 3
    assert installed(project / ".envs" / "dev") == {name: "1.0" for name in done}
    _heals(project, 12)


def test_ctrl_c_while_downloading_drops_the_queued_downloads(tmp_path: Path, index: LocalIndex):
    """With 40 wheels to fetch and slow answers, an interrupt when the first download is in
    must not wait for the rest of the queue: only downloads already under way were asked for."""
    count = 40
    project = _project(tmp_path, index, count)
    index.clear_requests()
    index.delay = 1.0  # every download is in flight for a while: the queue is still long at the interrupt
    _interrupted_at(project, "downloaded:1")
    downloads = [path for path in index.requests if path.startswith("/files/")]
    assert len(downloads) < count, downloads
    assert not (project / ".envs" / "dev").exists(), "nothing is changed before every wheel is fetched"
    index.delay = 0.0
    _heals(project, count)


def test_ctrl_c_after_the_downloads_changes_nothing(tmp_path: Path, index: LocalIndex):
    project = _project(tmp_path, index, 5)
    _interrupted_at(project, "fetched")
    assert not (project / ".envs" / "dev").exists()
    _heals(project, 5)


@pytest.mark.parametrize(("value", "expected"), [
    ("installed", StopAt("installed", 1, False)),
    ("installed:3", StopAt("installed", 3, False)),
    ("downloading:2:interrupt", StopAt("downloading", 2, True)),
    ("fetched:interrupt", StopAt("fetched", 1, True)),
    ("", None),
])
def test_stop_at_values(value: str, expected: StopAt | None):
    assert parse_stop_at(value) == expected


@pytest.mark.parametrize("value", ["instaled", "installed:0", "installed:x", "installed:1:2", "fetched:kill"])
def test_a_bad_stop_at_value_is_a_clear_error(value: str):
    with pytest.raises(EnvsyncError, match="ENVSYNC_TEST_STOP_AT"):
        parse_stop_at(value)
