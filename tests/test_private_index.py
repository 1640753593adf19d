"""Private indexes: credentials from ~/.netrc or ENVSYNC_INDEX_<NAME>_USERNAME/_PASSWORD,
sent to that index only, and never printed, locked or cached."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

SECRET = "s3cr3t-pa55word"


def private(index: LocalIndex) -> None:
    index.add(WheelSpec("corp-lib", "1.0"))
    index.auth = ("alice", SECRET)


def nothing_leaked(project: Path, output: str) -> None:
    assert SECRET not in output
    for folder in (project, Path(os.environ["ENVSYNC_CACHE_DIR"])):
        for path in folder.rglob("*"):
            if path.is_file() and "site-packages" not in path.parts:
                assert SECRET.encode() not in path.read_bytes(), path


def test_credentials_from_netrc(tmp_path: Path, index: LocalIndex):
    private(index)
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {SECRET}\n")
    netrc.chmod(0o600)
    project = tmp_path / "p"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["corp-lib"]\n')
    denied = run_envsync("apply", cwd=project, env={"NETRC": str(tmp_path / "absent")})
    assert denied.returncode == 1 and "401" in denied.stderr
    result = run_envsync("apply", cwd=project, env={"NETRC": str(netrc)})
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "e") == {"corp-lib": "1.0"}
    nothing_leaked(project, result.stdout + result.stderr + denied.stderr)


def test_credentials_from_environment_variables(tmp_path: Path, index: LocalIndex):
    private(index)
    project = tmp_path / "p"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["corp-lib"]\n')
    variables = {"ENVSYNC_INDEX_127_0_0_1_USERNAME": "alice", "ENVSYNC_INDEX_127_0_0_1_PASSWORD": SECRET,
                 "NETRC": str(tmp_path / "absent")}
    result = run_envsync("apply", cwd=project, env=variables)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "e") == {"corp-lib": "1.0"}
    nothing_leaked(project, result.stdout + result.stderr)
