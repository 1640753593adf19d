"""Credentials in direct references (`name @ https://user:token@host/x.whl`, or `${TOKEN}` in a
requirements file): sent to their own host, needed again by `--frozen`, written nowhere."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

FIRST, SECOND = "ci-job-token-0001-aaaa", "ci-job-token-0002-bbbb"
WHEEL = "corp_lib-1.0-py3-none-any.whl"


@pytest.fixture
def private(tmp_path: Path):
    """A file server on its own port that answers only alice with the current token."""
    with LocalIndex(tmp_path / "private") as served:
        served.add(WheelSpec("corp-lib", "1.0", requires=["dep-pkg"]))
        served.auth = ("alice", FIRST)
        yield served


def project_with(tmp_path: Path, index: LocalIndex, line: str) -> Path:
    index.add(WheelSpec("dep-pkg", "2.0"))
    project = tmp_path / "p"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\nrequirements = ["reqs.txt"]\n')
    (project / "reqs.txt").write_text(line + "\n")
    return project


def fresh_machine() -> None:
    """Forget every download, as a CI runner starts with an empty cache."""
    import shutil

    shutil.rmtree(Path(os.environ["ENVSYNC_CACHE_DIR"]) / "downloads", ignore_errors=True)


def leaks(token: str, project: Path, *outputs: str) -> list[str]:
    """Every output and every file under the project (envs included) and the cache holding `token`."""
    found = [f"output {n}" for n, text in enumerate(outputs) if token in text]
    for folder in (project, Path(os.environ["ENVSYNC_CACHE_DIR"])):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink() and token.encode() in path.read_bytes():
                found.append(str(path))
    return found


def test_a_credentialed_archive_installs_and_its_token_is_written_nowhere(tmp_path: Path, index: LocalIndex,
                                                                         private: LocalIndex):
    url = private.file_url(WHEEL).replace("://", "://alice:${TOKEN}@")
    project = project_with(tmp_path, index, f"corp-lib @ {url}")
    token = {"TOKEN": FIRST}
    outputs = []
    for command in (("apply",), ("plan", "--json"), ("tree", "e"), ("export", "e"), ("plan", "--refresh")):
        result = run_envsync(*command, cwd=project, env=token)
        assert result.returncode == 0, (command, result.stderr)
        outputs += [result.stdout, result.stderr]
    env = project / ".envs" / "e"
    assert installed(env) == {"corp-lib": "1.0", "dep-pkg": "2.0"}
    (record,) = env.glob("lib/python*/site-packages/corp_lib-1.0.dist-info/direct_url.json")
    assert json.loads(record.read_text())["url"] == private.file_url(WHEEL)  # PEP 610: stripped
    assert leaks(FIRST, project, *outputs) == []


def test_a_rotating_token_keeps_the_lock_and_frozen_takes_the_new_one(tmp_path: Path, index: LocalIndex,
                                                                     private: LocalIndex):
    url = private.file_url(WHEEL).replace("://", "://alice:${TOKEN}@")
    project = project_with(tmp_path, index, f"corp-lib @ {url}")
    assert run_envsync("lock", cwd=project, env={"TOKEN": FIRST}).returncode == 0
    fresh_machine()
    private.auth = ("alice", SECOND)  # the next CI job's token
    checked = run_envsync("plan", "--locked", cwd=project, env={"TOKEN": SECOND})
    assert checked.returncode == 0, checked.stderr
    frozen = run_envsync("apply", "--frozen", cwd=project, env={"TOKEN": SECOND})
    assert frozen.returncode == 0, frozen.stderr
    assert installed(project / ".envs" / "e") == {"corp-lib": "1.0", "dep-pkg": "2.0"}
    assert leaks(SECOND, project, checked.stdout, checked.stderr, frozen.stdout, frozen.stderr) == []


def test_frozen_takes_the_host_credentials_from_the_environment(tmp_path: Path, index: LocalIndex,
                                                                private: LocalIndex):
    project = project_with(tmp_path, index, f"corp-lib @ {private.file_url(WHEEL)}")
    variables = {"ENVSYNC_INDEX_127_0_0_1_USERNAME": "alice", "ENVSYNC_INDEX_127_0_0_1_PASSWORD": FIRST,
                 "NETRC": str(tmp_path / "absent")}
    assert run_envsync("lock", cwd=project, env=variables).returncode == 0
    fresh_machine()
    denied = run_envsync("apply", "--frozen", cwd=project, env={"NETRC": str(tmp_path / "absent")})
    assert denied.returncode == 1 and "401" in denied.stderr
    frozen = run_envsync("apply", "--frozen", cwd=project, env=variables)
    assert frozen.returncode == 0, frozen.stderr
    assert installed(project / ".envs" / "e")["corp-lib"] == "1.0"


def test_a_bare_credentialed_url_line_is_a_direct_reference(tmp_path: Path, index: LocalIndex,
                                                           private: LocalIndex):
    url = private.file_url(WHEEL).replace("://", "://alice:${TOKEN}@")
    project = project_with(tmp_path, index, url)
    result = run_envsync("apply", cwd=project, env={"TOKEN": FIRST})
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "e")["corp-lib"] == "1.0"


def test_an_error_about_a_credentialed_line_does_not_print_the_secret(tmp_path: Path, index: LocalIndex,
                                                                      private: LocalIndex):
    url = private.file_url("corp_lib-1.0.txt").replace("://", "://alice:${TOKEN}@")
    project = project_with(tmp_path, index, url)
    result = run_envsync("plan", cwd=project, env={"TOKEN": FIRST})
    assert result.returncode == 1
    assert "reqs.txt:1" in result.stderr and "***@" in result.stderr, result.stderr
    assert FIRST not in result.stderr + result.stdout
    (project / "reqs.txt").write_text(f"other @ {private.file_url(WHEEL).replace('://', '://alice:${TOKEN}@')}\n")
    result = run_envsync("plan", cwd=project, env={"TOKEN": FIRST})
    assert result.returncode == 1 and "corp-lib" in result.stderr, result.stderr
    assert FIRST not in result.stderr + result.stdout


def test_credentials_go_to_their_own_host_only(tmp_path: Path, index: LocalIndex, private: LocalIndex):
    url = private.file_url(WHEEL).replace("://", "://alice:${TOKEN}@")
    project = project_with(tmp_path, index, f"corp-lib @ {url}")
    assert run_envsync("apply", cwd=project, env={"TOKEN": FIRST}).returncode == 0
    sent = [headers for _, headers in index.request_headers]
    assert sent and not any("authorization" in {key.lower() for key in headers} for headers in sent)


class _AuthFiles(__import__("http.server").server.SimpleHTTPRequestHandler):
    """Static files (a bare repository served over git's dumb HTTP protocol) for alice only."""

    token = FIRST

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        import base64

        wanted = "Basic " + base64.b64encode(f"alice:{self.token}".encode()).decode()
        if self.headers.get("Authorization") != wanted:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.path = self.path.split("?", 1)[0]
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


def test_a_credentialed_git_url_installs_and_its_token_stays_out_of_the_mirror(tmp_path: Path, index: LocalIndex):
    import functools
    import subprocess
    import threading
    from http.server import ThreadingHTTPServer

    from gitver_backend import write_project

    source = write_project(tmp_path / "gitapp")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "one"]):
        subprocess.run([*git, *args], cwd=source, check=True, capture_output=True)
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(served / "repo.git")], check=True)
    subprocess.run(["git", "update-server-info"], cwd=served / "repo.git", check=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_AuthFiles, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"git+http://alice:${{TOKEN}}@127.0.0.1:{server.server_port}/repo.git"
        project = project_with(tmp_path, index, f"gitapp @ {url}")
        result = run_envsync("apply", cwd=project, env={"TOKEN": FIRST})
        assert result.returncode == 0, result.stderr
        assert installed(project / ".envs" / "e")["gitapp"] == "0.1.dev1"
        lock = (project / "pylock.e.toml").read_text()
        assert f'url = "http://127.0.0.1:{server.server_port}/repo.git"' in lock
        assert leaks(FIRST, project, result.stdout, result.stderr) == []
    finally:
        server.shutdown()
        server.server_close()


def test_a_review_never_prints_the_token(tmp_path: Path, index: LocalIndex, private: LocalIndex):
    import subprocess

    from helpers import write_config

    index.add(WheelSpec("dep-pkg", "2.0"))
    index.add(WheelSpec("other", "1.0"))
    project = tmp_path / "p"
    direct = f'"corp-lib @ {private.file_url(WHEEL).replace("://", f"://alice:{FIRST}@")}"'
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = [{direct}]\n')
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=project, check=True)
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = [{direct}, "other"]\n')
    result = run_envsync("plan", "--base", "HEAD", "--format", "markdown", cwd=project)
    assert FIRST not in result.stdout + result.stderr, result.stdout + result.stderr
