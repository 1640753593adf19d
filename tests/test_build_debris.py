"""A build killed half-way leaves nothing running and nothing behind that the next run keeps;
two runs putting one built wheel into the cache never mix their bytes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from helpers import REPO_ROOT, run_envsync, write_config
from localindex import LocalIndex

# An in-tree backend: while the file `block` is beside it, preparing metadata starts a child process,
# writes both pids down, and waits for ever, as a long compile would.
BLOCKING_BACKEND = """
import os, pathlib, subprocess, sys, time
HERE = pathlib.Path(__file__).parent

def _maybe_block():
    if (HERE / "block").exists():
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)"])
        (HERE / "pids.tmp").write_text(f"{os.getpid()} {child.pid}")
        os.replace(HERE / "pids.tmp", HERE / "pids")
        time.sleep(900)

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _maybe_block()
    folder = pathlib.Path(metadata_directory) / "blocker-1.0.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_text("Metadata-Version: 2.1\\nName: blocker\\nVersion: 1.0\\n")
    return folder.name
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, what: str, limit: float = 120.0) -> None:
    """Poll until `condition()` holds; the limit only stops a hung test, it is not a timing claim."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_a_killed_build_leaves_no_backend_running_and_its_folders_are_swept(tmp_path: Path,
                                                                            index: LocalIndex) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = []
        build-backend = "blocking_backend"
        backend-path = ["."]
        [project]
        name = "blocker"
        dynamic = ["version"]
        """))  # a dynamic version: envsync must ask the backend
    (project / "blocking_backend.py").write_text(BLOCKING_BACKEND)
    (project / "block").write_text("")
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\nproject = "."\n')
    temp = tmp_path / "tmp"
    temp.mkdir()
    environ = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(temp)}
    run = subprocess.Popen([sys.executable, "-m", "envsync", "plan"], cwd=project, env=environ,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: (project / "pids").exists() or run.poll() is not None, "the backend to start")
        assert run.poll() is None, "envsync ended before its backend blocked"
        pids = [int(pid) for pid in (project / "pids").read_text().split()]
        assert all(_alive(pid) for pid in pids)
        run.send_signal(signal.SIGKILL)  # as `kill -9` would: envsync gets no chance to tidy up
        run.wait()
        _wait_for(lambda: not any(_alive(pid) for pid in pids), "the backend and its child to end")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    work = Path(os.environ["ENVSYNC_CACHE_DIR"]) / "build-work"
    assert any(work.iterdir())  # what the dead run was using is still there, for now
    assert not [name for name in os.listdir(temp) if name.startswith("envsync-")]

    (project / "block").unlink()
    result = run_envsync("plan", cwd=project, env={"TMPDIR": str(temp)})
    assert result.returncode == 0, result.stderr
    assert list(work.iterdir()) == []  # swept: the dead run's folder and lock, and this run's own


def test_a_built_wheel_reaches_the_cache_whole_when_another_run_copies_it_too(tmp_path: Path,
                                                                             monkeypatch) -> None:
    """Two runs building one sdist both copy their wheel into the cache: each copy has a name of
    its own, so the one renamed into place is whole, whatever the other does meanwhile."""
    from envsync.build import wheels

    built = tmp_path / "pkg-1.0-py3-none-any.whl"
    built.write_bytes(b"the wheel this run built")
    target = tmp_path / "cache" / built.name
    target.parent.mkdir()
    real_replace = os.replace

    def other_run_writes_meanwhile(source, dest):
        # The other run opens the name a fixed-name copy would use, and starts writing.
        (target.parent / (target.stem + ".part")).write_bytes(b"half of another")
        real_replace(source, dest)

    monkeypatch.setattr(os, "replace", other_run_writes_meanwhile)
    wheels._copy_atomic(built, target)
    assert target.read_bytes() == b"the wheel this run built"
