"""Requirements and constraints files as env inputs: pip's format read, includes followed,
constraints applied, hashes enforced, and edits seen by `plan` and the lock."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config
from localindex import LocalIndex, sha256_hex
from wheelfactory import WheelSpec

from envsync.config.load import load
from envsync.config.requirements import read_files
from envsync.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def ok(project: Path, *args: str):
    result = run_envsync(*args, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# -- the parser ---------------------------------------------------------------------------


def test_includes_continuations_comments_markers_and_variables(tmp_path: Path):
    write(tmp_path / "reqs" / "base.txt", """
        # shared
        lib>=1.0  # trailing comment
        -c ../constraints.txt
    """)
    write(tmp_path / "constraints.txt", "lib<2\n")
    main = write(tmp_path / "requirements.txt", """
        -r reqs/base.txt

        app \\
            >=1.0 \\
            ; python_version >= "3.8"
        old; python_version < "3.0"
        tool==${TOOL_VERSION}
    """)
    parsed = read_files(tmp_path, [(main, "envs.toml: envs.dev.requirements[0]")], [],
                        environ={"TOOL_VERSION": "2.1"})
    assert [str(line.requirement) for line in parsed.requirements] == [
        "lib>=1.0", 'app>=1.0; python_version >= "3.8"', 'old; python_version < "3.0"', "tool==2.1"]
    assert [line.where for line in parsed.requirements] == [
        "reqs/base.txt:2", "requirements.txt:3", "requirements.txt:6", "requirements.txt:7"]
    assert [str(line.requirement) for line in parsed.constraints] == ["lib<2"]
    assert [Path(path).name for path, _ in parsed.files] == ["requirements.txt", "base.txt", "constraints.txt"]
    assert parsed.variables == ("TOOL_VERSION",) and not parsed.require_hashes


def test_hashes_and_index_options(tmp_path: Path):
    good, other = "a" * 64, "b" * 64
    main = write(tmp_path / "requirements.txt", f"""
        --index-url https://mirror.example/simple
        --extra-index-url=https://extra.example/simple
        --find-links ./wheels
        --pre
        lib==1.0 --hash=sha256:{good} \\
            --hash sha256:{other}
    """)
    parsed = read_files(tmp_path, [(main, "x")], [])
    assert parsed.require_hashes and parsed.pre
    assert parsed.hashes() == {"lib": (frozenset({good, other}), "requirements.txt:5")}
    assert parsed.index_url.value == "https://mirror.example/simple"
    assert [o.value for o in parsed.extra_index_urls] == ["https://extra.example/simple"]
    assert [o.value for o in parsed.find_links] == [str(tmp_path / "wheels")]


@pytest.mark.parametrize("text,expected", [
    ("ok\nbad>>1\n", ["requirements.txt:2", "'bad>>1'", "not a valid requirement"]),
    ("-e ./mypkg\n", ["requirements.txt:1", "-e ./mypkg", "not a Python project folder"]),
    ("-e git+https://example.com/x.git\n", ["requirements.txt:1", "only a local project folder"]),
    ("./somewhere/\n", ["requirements.txt:1", "can't tell which package this is", "NAME @ URL"]),
    ("# top\n\n-r missing.txt\n", ["requirements.txt:3", "missing.txt: no such file"]),
    ("-r requirements.txt\n", ["cycle", "requirements.txt -> requirements.txt"]),
    ("lib --hash=md5:abc\n", ["requirements.txt:1", "only sha256"]),
    (f"lib --hash=sha256:{'a' * 64}\nother\n", ["requirements.txt:2", "other has no --hash"]),
    ("--trusted-host x\n", ["requirements.txt:1", "--trusted-host is not supported"]),
    ("lib==${NOT_SET_ANYWHERE}\n", ["requirements.txt:1", "${NOT_SET_ANYWHERE} is not set"]),
])
def test_errors_name_the_file_and_line(tmp_path: Path, text: str, expected: list[str]):
    main = write(tmp_path / "requirements.txt", text)
    with pytest.raises(ConfigError) as caught:
        read_files(tmp_path, [(main, "envs.toml: envs.dev.requirements[0]")], [], environ={})
    for fragment in expected:
        assert fragment in str(caught.value)


def test_files_are_inherited_and_named_in_the_config_error(tmp_path: Path):
    write(tmp_path / "requirements.txt", "lib\n")
    write(tmp_path / "constraints.txt", "lib<2\n")
    path = write_config(tmp_path, """
        [envs.base]
        requirements = ["requirements.txt"]
        constraints = ["constraints.txt"]
        [envs.dev]
        inherits = ["base"]
        dependencies = ["tool"]
        [envs.broken]
        requirements = ["nope.txt"]
    """)
    with pytest.raises(ConfigError, match=r"envs.broken.requirements\[0\]: nope.txt: no such file"):
        load(path)
    (tmp_path / "nope.txt").write_text("other\n")
    dev = load(path).env("dev")
    assert [str(r) for r in dev.requirements] == ["tool", "lib"]
    assert [str(c) for c in dev.constraints] == ["lib<2"]
    assert [name for name, _ in dev.files] == ["requirements.txt", "constraints.txt"]


# -- with a real index and venvs -------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib>=1"]))
    index.add(WheelSpec("unused", "1.0"))
    folder = tmp_path / "project"
    write_config(folder, f"""
        [settings]
        index-url = "{index.url}"
        [envs.dev]
        requirements = ["requirements.txt"]
        constraints = ["constraints.txt"]
    """)
    return folder


def test_constraints_cap_versions_and_add_nothing(project: Path):
    write(project / "requirements.txt", "-r more/app.txt\n")
    write(project / "more" / "app.txt", "app  # pulls in lib\n")
    write(project / "constraints.txt", "lib<2\nunused==1.0\n")
    ok(project, "apply")
    assert installed(project / ".envs" / "dev") == {"app": "1.0", "lib": "1.0"}


def test_hashes_are_enforced(project: Path, index: LocalIndex):
    app = sha256_hex(index.find_file("app-1.0-py3-none-any.whl").path.read_bytes())
    lib1 = sha256_hex(index.find_file("lib-1.0-py3-none-any.whl").path.read_bytes())
    write(project / "constraints.txt", f"lib==1.0 --hash=sha256:{lib1}\n")
    write(project / "requirements.txt", f"app==1.0 --hash=sha256:{app}\n")
    ok(project, "apply")
    assert installed(project / ".envs" / "dev") == {"app": "1.0", "lib": "1.0"}

    tampered = app[:-1] + ("0" if app[-1] != "0" else "1")
    write(project / "requirements.txt", f"app==1.0 --hash=sha256:{tampered}\n")
    refused = run_envsync("apply", cwd=project)
    assert refused.returncode == 1, refused.stdout
    assert "app: no file" in refused.stderr and "requirements.txt:1" in refused.stderr
    assert "Traceback" not in refused.stderr

    write(project / "requirements.txt", f"app==1.0 --hash=sha256:{app}\n")
    write(project / "constraints.txt", "lib==1.0\n")  # lib pulled in without a hash
    missing = run_envsync("plan", cwd=project)
    assert missing.returncode == 1 and "lib has no --hash" in missing.stderr


def test_an_edit_to_a_requirements_file_shows_in_plan_and_the_lock(project: Path):
    write(project / "requirements.txt", "-r more.txt\n")
    write(project / "more.txt", "lib<2\n")
    write(project / "constraints.txt", "")
    ok(project, "apply")
    lock = (project / "pylock.dev.toml").read_text()
    assert "in sync" in ok(project, "plan").stdout
    write(project / "more.txt", "lib<2\napp\n")  # an edit in an included file
    plan = run_envsync("plan", "--detailed-exitcode", cwd=project)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "install  app 1.0" in plan.stdout and "pylock.dev.toml will be written" in plan.stdout
    ok(project, "apply")
    assert (project / "pylock.dev.toml").read_text() != lock
    write(project / "constraints.txt", "lib<1.5\n")  # a comment-free edit to the constraints
    assert "will be written" in ok(project, "plan").stdout


def test_index_options_in_a_file_apply_unless_the_config_sets_them(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    project = tmp_path / "project"
    write(project / "requirements.txt", f"--index-url {index.url}\nlib\n")
    write_config(project, '[envs.dev]\nrequirements = ["requirements.txt"]\n')
    ok(project, "apply")
    assert installed(project / ".envs" / "dev") == {"lib": "1.0"}
    # The config's own index-url wins over the file's.
    write_config(project, f'[settings]\nindex-url = "{tmp_path / "empty"}"\n'
                          '[envs.dev]\nrequirements = ["requirements.txt"]\n')
    (tmp_path / "empty").mkdir()
    result = run_envsync("lock", "--upgrade", cwd=project)
    assert result.returncode == 1 and "'lib' was not found" in result.stderr


def test_the_no_op_stamp_covers_requirements_files(project: Path):
    """In sync: the fast path (no pydantic) answers; an edit to an included file voids it."""
    import os
    import subprocess
    import sys

    from helpers import REPO_ROOT

    write(project / "requirements.txt", "-r more.txt\n")
    write(project / "more.txt", "lib<2\n")
    write(project / "constraints.txt", "")
    ok(project, "apply")

    def pydantic_imported() -> bool:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "envsync", "plan"], cwd=project,
                                env=env, capture_output=True, text=True, check=True)
        return any(line.split("|")[-1].strip().startswith("pydantic") for line in result.stderr.splitlines())

    assert not pydantic_imported()
    write(project / "more.txt", "lib<2\n# a comment only\n")
    assert pydantic_imported()


def test_a_named_direct_reference_in_a_requirements_file_is_read_from_that_files_folder(tmp_path: Path,
                                                                                       index: LocalIndex):
    """`name @ ./path` in a requirements file is relative to that file, as pip reads it."""
    from wheelfactory import make_wheel

    index.add(WheelSpec("dep", "1.0"))
    project = tmp_path / "project"
    (project / "reqs" / "wheels").mkdir(parents=True)
    wheel = make_wheel(project / "reqs" / "wheels", WheelSpec("thing", "3.0", requires=["dep"]))
    (project / "reqs" / "base.txt").write_text(f"thing @ ./wheels/{wheel.name}\n")
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\nrequirements = ["reqs/base.txt"]\n')
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed(project / ".envs" / "dev") == {"thing": "3.0", "dep": "1.0"}
