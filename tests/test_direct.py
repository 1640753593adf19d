"""Direct references: `name @ URL` for wheels (with and without a hash), local project folders
and git revisions; each locked as PEP 751 says and reinstalled when its source changes."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

from helpers import installed, run_envsync
from localindex import LocalIndex, sha256_hex
from test_project import HATCHLING, make_project
from wheelfactory import WheelSpec, make_wheel


def envs(folder: Path, index: LocalIndex, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "envs.toml").write_text(f'[settings]\nindex-url = "{index.url}"\n\n' + textwrap.dedent(body))
    return folder


def apply(folder: Path) -> subprocess.CompletedProcess[str]:
    return run_envsync("apply", cwd=folder, timeout=600)


def direct_url(env: Path, name: str) -> dict:
    (dist_info,) = env.glob(f"lib/python*/site-packages/{name}-*.dist-info")
    return json.loads((dist_info / "direct_url.json").read_text())


def test_wheel_by_url_with_and_without_hash(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("dep", "1.0"))
    wheel = make_wheel(tmp_path / "wheels", WheelSpec("thing", "3.0", requires=["dep"]))
    index.add_file("thing", wheel)
    url = index.file_url(wheel.name)
    digest = sha256_hex(wheel.read_bytes())
    project = envs(tmp_path / "p", index, f'[envs.a]\ndependencies = ["thing @ {url}#sha256={digest}"]\n'
                                         f'[envs.b]\ndependencies = ["thing @ {url}"]\n')
    result = apply(project)
    assert result.returncode == 0, result.stderr
    for name in ("a", "b"):
        env = project / ".envs" / name
        assert installed(env) == {"thing": "3.0", "dep": "1.0"}
        assert direct_url(env, "thing") == {"url": url, "archive_info": {"hashes": {"sha256": digest}}}
    lock = (project / "pylock.a.toml").read_text()
    assert "[packages.archive]" in lock and digest in lock
    assert "in sync" in run_envsync("plan", cwd=project).stdout


def test_wheel_by_url_with_a_wrong_hash_is_refused(tmp_path: Path, index: LocalIndex):
    wheel = make_wheel(tmp_path / "wheels", WheelSpec("thing", "3.0"))
    index.add_file("thing", wheel)
    project = envs(tmp_path / "p", index,
                   f'[envs.a]\ndependencies = ["thing @ {index.file_url(wheel.name)}#sha256={"0" * 64}"]\n')
    result = apply(project)
    assert result.returncode == 1
    assert "does not match" in result.stderr and "thing" in result.stderr
    assert not (project / ".envs" / "a").exists()


def test_local_wheel_file_reinstalled_when_it_changes(tmp_path: Path, index: LocalIndex):
    wheels = tmp_path / "wheels"
    wheel = make_wheel(wheels, WheelSpec("thing", "3.0"))
    project = envs(tmp_path / "p", index, f'[envs.a]\ndependencies = ["thing @ {wheel.as_uri()}"]\n')
    assert apply(project).returncode == 0, "first apply"
    env = project / ".envs" / "a"
    assert installed(env) == {"thing": "3.0"}
    assert direct_url(env, "thing")["url"] == wheel.as_uri()
    # another wheel under another name is another source: the lock is stale, the env follows
    other = make_wheel(tmp_path / "other", WheelSpec("thing", "3.0", console_scripts={"thing": "thing:main"}))
    envs(project, index, f'[envs.a]\ndependencies = ["thing @ {other.as_uri()}"]\n')
    plan = run_envsync("plan", cwd=project)
    assert "installed from another source" in plan.stdout, plan.stdout
    assert apply(project).returncode == 0
    assert (env / "bin" / "thing").exists()


def test_local_project_folder_by_path(tmp_path: Path, build_index: LocalIndex):
    build_index.add(WheelSpec("lib", "1.0"))
    app = make_project(tmp_path / "app", HATCHLING)
    project = envs(tmp_path / "p", build_index, f'[envs.a]\ndependencies = ["myapp @ {app.as_uri()}"]\n')
    result = apply(project)
    assert result.returncode == 0, result.stderr
    env = project / ".envs" / "a"
    assert installed(env) == {"myapp": "0.1.0", "lib": "1.0"}
    assert direct_url(env, "myapp") == {"url": app.as_uri(), "dir_info": {}}
    assert "[packages.directory]" in (project / "pylock.a.toml").read_text()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_git_requirement_from_a_local_repository(tmp_path: Path, build_index: LocalIndex):
    build_index.add(WheelSpec("lib", "1.0"))
    repo = make_project(tmp_path / "repo", HATCHLING)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    git(repo, "tag", "v1")
    first = git(repo, "rev-parse", "HEAD")
    make_project(repo, HATCHLING, version="0.2.0")
    git(repo, "commit", "-q", "-am", "two")
    git(repo, "tag", "v2")
    second = git(repo, "rev-parse", "HEAD")

    project = envs(tmp_path / "p", build_index, f'[envs.a]\ndependencies = ["myapp @ git+{repo.as_uri()}@v1"]\n')
    result = apply(project)
    assert result.returncode == 0, result.stderr
    env = project / ".envs" / "a"
    assert installed(env) == {"myapp": "0.1.0", "lib": "1.0"}
    assert direct_url(env, "myapp") == {"url": repo.as_uri(),
                                        "vcs_info": {"vcs": "git", "commit_id": first, "requested_revision": "v1"}}
    lock = (project / "pylock.a.toml").read_text()
    assert "[packages.vcs]" in lock and f'commit-id = "{first}"' in lock

    envs(project, build_index, f'[envs.a]\ndependencies = ["myapp @ git+{repo.as_uri()}@v2"]\n')
    plan = run_envsync("plan", cwd=project)
    assert "myapp 0.1.0 -> 0.2.0" in plan.stdout, plan.stdout
    assert apply(project).returncode == 0
    assert direct_url(env, "myapp")["vcs_info"]["commit_id"] == second
