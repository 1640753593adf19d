"""Reproducible installs: PEP 751 locks written, trusted when fresh, enforced with --locked,
installed as they are with --frozen, and exchanged with another PEP 751 tool (uv)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import installed, make_venv, run_envsync, venv_python, write_config
from localindex import LocalIndex
from packaging.pylock import Pylock
from wheelfactory import WheelSpec


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def configure(project: Path, index: LocalIndex, deps: str, url: str | None = None) -> None:
    write_config(project, f'[settings]\nindex-url = "{url or index.url}"\n[envs.dev]\ndependencies = [{deps}]\n')


def ok(project: Path, *args: str):
    result = run_envsync(*args, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def index_queries(index: LocalIndex) -> list[str]:
    """Requests for project pages or metadata (anything but wheel downloads)."""
    return [r for r in index.requests if not r.endswith(".whl")]


def publish(index: LocalIndex) -> None:
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib>=1"]))


def test_lock_is_valid_pep751_with_everything_needed(project: Path, index: LocalIndex):
    publish(index)
    secret_url = index.url.replace("http://", "http://user:s3cret@")
    configure(project, index, '"app"', url=secret_url)
    ok(project, "lock")
    path = project / "pylock.dev.toml"
    text = path.read_text()
    assert "s3cret" not in text
    document = Pylock.from_dict(tomllib.loads(text))
    assert document.created_by == "envsync"
    assert [(p.name, str(p.version)) for p in document.packages] == [("app", "1.0"), ("lib", "1.0")]
    wheel = document.packages[1].wheels[0]
    assert wheel.url.endswith("/files/lib-1.0-py3-none-any.whl") and len(wheel.hashes["sha256"]) == 64
    assert document.requires_python is not None and document.environments
    assert document.tool["envsync"]["inputs"]
    assert document.packages[0].dependencies == [{"name": "lib"}]
    # Round trip through packaging.pylock gives the same document.
    assert Pylock.from_dict(document.to_dict()) == document
    ok(project, "lock")
    assert path.read_text() == text, "locking twice must give the same file"


def test_fresh_lock_is_used_without_asking_the_index(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, '"app"')
    ok(project, "lock")
    index.add(WheelSpec("lib", "2.0"))  # the index moves on after locking
    index.clear_requests()
    ok(project, "apply")
    assert installed(project / ".envs" / "dev") == {"app": "1.0", "lib": "1.0"}
    assert index_queries(index) == []


def test_stale_lock_is_re_resolved_keeping_pins_that_still_fit(project: Path, index: LocalIndex):
    publish(index)
    index.add(WheelSpec("tool", "1.0"))
    configure(project, index, '"app"')
    ok(project, "apply")
    index.add(WheelSpec("lib", "2.0"))
    configure(project, index, '"app", "tool"')
    plan = ok(project, "plan")
    assert "pylock.dev.toml will be written" in plan.stdout and "lib" not in plan.stdout
    ok(project, "apply")
    assert installed(project / ".envs" / "dev") == {"app": "1.0", "lib": "1.0", "tool": "1.0"}
    assert 'version = "1.0"' in (project / "pylock.dev.toml").read_text()


def test_locked_fails_on_missing_or_stale_lock(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, '"app"')
    missing = run_envsync("plan", "--locked", cwd=project)
    assert missing.returncode == 1 and "pylock.dev.toml does not exist" in missing.stderr
    ok(project, "lock")
    ok(project, "apply", "--locked")
    configure(project, index, '"app", "lib>=1"')
    stale = run_envsync("apply", "--locked", cwd=project)
    assert stale.returncode == 1 and "out of date" in stale.stderr and "envsync lock dev" in stale.stderr


def test_frozen_installs_the_lock_as_it_is(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, '"app"')
    assert "does not exist" in run_envsync("apply", "--frozen", cwd=project).stderr
    ok(project, "lock")
    configure(project, index, '"app", "something-else"')  # stale, but --frozen does not care
    index.clear_requests()
    ok(project, "apply", "--frozen")
    assert installed(project / ".envs" / "dev") == {"app": "1.0", "lib": "1.0"}
    assert index_queries(index) == []


def test_upgrade_and_upgrade_package(project: Path, index: LocalIndex):
    publish(index)
    index.add(WheelSpec("other", "1.0"))
    configure(project, index, '"app", "other"')
    ok(project, "lock")
    index.add(WheelSpec("lib", "1.5"))
    index.add(WheelSpec("other", "1.5"))
    ok(project, "lock")
    assert "1.5" not in (project / "pylock.dev.toml").read_text()
    ok(project, "lock", "--upgrade-package", "Other")
    versions = {p.name: str(p.version) for p in Pylock.from_dict(
        tomllib.loads((project / "pylock.dev.toml").read_text())).packages}
    assert versions == {"app": "1.0", "lib": "1.0", "other": "1.5"}
    ok(project, "lock", "--upgrade")
    assert 'name = "lib"\nversion = "1.5"' in (project / "pylock.dev.toml").read_text()


def test_tampered_lock_is_refused(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, '"app"')
    ok(project, "lock")
    path = project / "pylock.dev.toml"
    document = tomllib.loads(path.read_text())
    good = document["packages"][1]["wheels"][0]["hashes"]["sha256"]
    path.write_text(path.read_text().replace(good, "0" * 64))
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 1 and "does not match" in result.stderr
    assert not list((project / ".envs" / "dev").glob("lib/python*/site-packages/lib"))
    path.write_text("lock-version = 'banana'\n")
    broken = run_envsync("plan", cwd=project)
    assert broken.returncode == 1 and "pylock.dev.toml: not a valid PEP 751 lock file" in broken.stderr


def _find_uv() -> str | None:
    """uv from PATH, or installed beside the interpreter running the tests (a venv's bin/)."""
    beside = Path(sys.executable).parent / "uv"
    return shutil.which("uv") or (str(beside) if beside.is_file() else None)


uv = _find_uv()
needs_uv = pytest.mark.skipif(uv is None, reason="uv is not installed in the test environment")


@needs_uv
def test_uv_installs_an_envsync_lock(project: Path, tmp_path: Path, index: LocalIndex):
    publish(index)
    configure(project, index, '"app"')
    ok(project, "lock")
    target = make_venv(tmp_path / "by-uv")
    subprocess.run([uv, "pip", "install", "--python", str(venv_python(target)), "-r",
                    str(project / "pylock.dev.toml")], check=True, capture_output=True, text=True)
    assert installed(target) == {"app": "1.0", "lib": "1.0"}


@needs_uv
def test_envsync_installs_a_lock_written_by_uv(project: Path, index: LocalIndex):
    publish(index)
    index.add(WheelSpec("lib", "2.0"))
    (project / "requirements.in").write_text("app\nlib<2\n")
    subprocess.run([uv, "pip", "compile", "--index-url", index.url, "--format", "pylock.toml",
                    "--python", sys.executable, "-o", str(project / "pylock.dev.toml"), "requirements.in"],
                   cwd=project, check=True, capture_output=True, text=True)
    configure(project, index, '"app"')
    ok(project, "apply", "--frozen")
    assert installed(project / ".envs" / "dev") == {"app": "1.0", "lib": "1.0"}


def test_a_ci_mirror_override_does_not_make_a_lock_stale(project: Path, index: LocalIndex):
    publish(index)
    configure(project, index, '"app"')
    ok(project, "lock")
    mirror = index.url.replace("127.0.0.1", "localhost")  # the same packages under another URL
    result = run_envsync("apply", "--locked", cwd=project, env={"ENVSYNC_INDEX_URL": mirror})
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "dev") == {"app": "1.0", "lib": "1.0"}
