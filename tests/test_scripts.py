"""Scripts (`[envs.NAME.scripts]`), `{args}`, env-vars and `run ENV:SCRIPT`, on real venvs.

Every script here runs `python tools.py ...`: the interpreter is the env's own (found first on
the activated PATH) and tools.py is found only because a script runs in the folder of
envs.toml, even when envsync is started from a subfolder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import REPO_ROOT, python_path, run_envsync, write_config
from localindex import LocalIndex

from envsync.config.load import load
from envsync.errors import ConfigError

TOOLS = textwrap.dedent("""
    import json, os, sys, time
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "argv":
        print(json.dumps(rest))
    elif command == "touch":
        open(rest[0], "w").close()
    elif command == "exit":
        sys.exit(int(rest[0]))
    elif command == "env":
        print(json.dumps({name: os.environ.get(name) for name in rest}))
    elif command == "where":
        print(json.dumps({"cwd": os.getcwd(), "prefix": sys.prefix}))
    elif command == "version-lines":  # many lines, flushed one by one; fail on one Python
        version = "%d.%d" % sys.version_info[:2]
        for number in range(200):
            print(f"{version} {number}", flush=True)
        sys.exit(4 if version == rest[0] else 0)
    elif command == "wait":  # say so (started-<python version>, holding the pid), then wait until stopped
        name = "started-%d.%d" % sys.version_info[:2]
        with open(name + ".tmp", "w") as handle:
            handle.write(str(os.getpid()))
        os.replace(name + ".tmp", name)
        while True:
            time.sleep(0.05)
""")

SHOW = '"python tools.py argv'  # a script line's start, as TOML: the words it receives, as JSON


def project_with(folder: Path, index: LocalIndex, body: str) -> Path:
    """A project folder holding tools.py and an envs.toml of [settings] plus `body`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tools.py").write_text(TOOLS)
    write_config(folder, f'[settings]\nindex-url = "{index.url}"\n' + textwrap.dedent(body))
    return folder


@pytest.fixture
def project(tmp_path: Path, index: LocalIndex) -> Path:
    return project_with(tmp_path / "project", index, """
        [envs.dev.scripts]
        show = "python tools.py argv {args}"
        fixed = "python tools.py argv --fixed"
        default = "python tools.py argv {args:tests/unit 'two words'}"
        chain = ["python tools.py touch first", "python tools.py exit 3", "python tools.py touch third"]
        tolerant = ["python tools.py touch first", "- python tools.py exit 3", "python tools.py touch third"]
        several = ["python tools.py touch first", "python tools.py argv"]
        shell = "python tools.py argv a && b | c > d"
        where = "python tools.py where"
    """)


def envsync(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_envsync(*args, cwd=folder)


def words(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_arguments_after_the_double_dash_stay_one_word_each(project: Path):
    assert words(envsync(project, "run", "dev:show", "--", "-k", "not slow")) == ["-k", "not slow"]
    assert words(envsync(project, "run", "dev:show")) == []  # {args} with nothing passed: no word at all


def test_args_default_is_used_only_when_no_arguments_are_passed(project: Path):
    assert words(envsync(project, "run", "dev:default")) == ["tests/unit", "two words"]
    assert words(envsync(project, "run", "dev:default", "--", "tests/e2e")) == ["tests/e2e"]


def test_a_one_line_script_without_args_gets_the_arguments_appended(project: Path):
    assert words(envsync(project, "run", "dev:fixed", "--", "x", "y z")) == ["--fixed", "x", "y z"]


def test_arguments_to_a_script_of_several_lines_without_args_are_an_error(project: Path):
    result = envsync(project, "run", "dev:several", "--", "extra")
    assert result.returncode == 1
    assert "script dev:several has 2 lines and none takes {args}" in result.stderr
    assert "envs.dev.scripts.several" in result.stderr and "Traceback" not in result.stderr
    assert not (project / "first").exists() and not (project / ".envs").exists()  # nothing ran, nothing synced


def test_a_list_stops_at_the_first_failure_with_its_exit_code(project: Path):
    result = envsync(project, "run", "dev:chain")
    assert result.returncode == 3, result.stderr
    assert (project / "first").exists() and not (project / "third").exists()


def test_a_line_starting_with_a_dash_may_fail(project: Path):
    result = envsync(project, "run", "dev:tolerant")
    assert result.returncode == 0, result.stderr
    assert (project / "first").exists() and (project / "third").exists()
    assert "failed (exit 3); going on" in result.stderr


def test_shell_syntax_is_passed_as_words(project: Path):
    assert words(envsync(project, "run", "dev:shell")) == ["a", "&&", "b", "|", "c", ">", "d"]
    assert not (project / "d").exists()


def test_a_script_runs_in_the_config_folder_with_the_env_active(project: Path):
    below = project / "src" / "deep"
    below.mkdir(parents=True)
    seen = words_of(envsync(below, "run", ":where"))  # one env: :SCRIPT alone
    assert seen == {"cwd": str(project), "prefix": str(project / ".envs" / "dev")}


def words_of(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_unknown_script_lists_the_envs_scripts_with_a_did_you_mean(project: Path):
    result = envsync(project, "run", "dev:shwo")
    assert result.returncode == 1
    assert "env dev has no script 'shwo' (its scripts: chain, default, fixed, several, shell, show, " in result.stderr
    assert "did you mean dev:show?" in result.stderr and "Traceback" not in result.stderr


def test_scripts_are_inherited_and_the_inheriting_envs_own_names_win(tmp_path: Path, index: LocalIndex):
    folder = project_with(tmp_path / "project", index, """
        [envs.base.scripts]
        hello = "python tools.py argv from-base"
        both = "python tools.py argv base-version"
        [envs.child]
        inherits = ["base"]
        [envs.child.scripts]
        both = "python tools.py argv child-version"
    """)
    assert words(envsync(folder, "run", "child:hello")) == ["from-base"]
    assert words(envsync(folder, "run", "child:both")) == ["child-version"]
    assert words(envsync(folder, "run", "base:both")) == ["base-version"]
    several = envsync(folder, "run", ":hello")  # two envs: the env must be named
    assert several.returncode == 1 and "declares 2 envs (base, child): say which one" in several.stderr


def test_env_vars_are_set_inherited_and_expanded(tmp_path: Path, index: LocalIndex):
    folder = project_with(tmp_path / "project", index, """
        [settings.env-vars]
        FROM_SETTINGS = "settings"
        OVERRIDDEN = "settings"
        [envs.base.env-vars]
        FROM_BASE = "base"
        OVERRIDDEN = "base"
        [envs.dev]
        inherits = ["base"]
        env-vars = { OWN = "${OUTSIDE}-own", OVERRIDDEN = "dev" }
        [envs.dev.scripts]
        env = "python tools.py env FROM_SETTINGS FROM_BASE OWN OVERRIDDEN"
        expand = "python tools.py argv ${OWN} ${OUTSIDE} pre-${FROM_BASE}-post"
        unset = "python tools.py argv ${NOT_SET_ANYWHERE}"
    """)
    result = run_envsync("run", "dev:env", cwd=folder, env={"OUTSIDE": "out"})
    assert words_of(result) == {"FROM_SETTINGS": "settings", "FROM_BASE": "base", "OWN": "out-own",
                                "OVERRIDDEN": "dev"}
    assert words(run_envsync("run", "dev:expand", cwd=folder, env={"OUTSIDE": "out"})) == \
        ["out-own", "out", "pre-base-post"]
    command = run_envsync("run", "dev", "--", "python", "tools.py", "env", "OWN", cwd=folder, env={"OUTSIDE": "o"})
    assert words_of(command) == {"OWN": "o-own"}  # `run ENV -- CMD` gets the env-vars too
    unset = run_envsync("run", "dev:unset", cwd=folder, env={"OUTSIDE": "o"})
    assert unset.returncode == 1
    assert "envs.dev.scripts.unset: ${NOT_SET_ANYWHERE} is not set" in unset.stderr
    bare = envsync(folder, "run", "dev:env")  # OUTSIDE unset: the env-var that reads it can't be set
    assert bare.returncode == 1 and "env dev: env-vars.OWN: ${OUTSIDE} is not set" in bare.stderr


@pytest.mark.parametrize(("scripts", "message"), [
    ('cov = ["pytest {args}", "coverage \'report"]',
     "envs.test.scripts.cov[1]: \"coverage 'report\": the line can't be split like a shell line"),
    ('cov = "pytest --x={args}"', "envs.test.scripts.cov: 'pytest --x={args}': {args} must be a whole word"),
    ('cov = []', "envs.test.scripts.cov: must be a command line or a non-empty list of them"),
    ('cov = ["- "]', "envs.test.scripts.cov[0]: '- ': is empty"),
    ('cov = ["ok", 3]', "envs.test.scripts.cov[1]: must be a string, not int"),
    ('"a:b" = "pytest"', "'a:b' is not a valid script name"),
])
def test_bad_scripts_are_config_errors_naming_the_key(tmp_path: Path, scripts: str, message: str):
    path = write_config(tmp_path, f"[envs.test.scripts]\n{scripts}\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert message in str(caught.value)


def test_bad_env_vars_are_config_errors_naming_the_key(tmp_path: Path):
    path = write_config(tmp_path, '[envs.test.env-vars]\nDEBUG = 1\n')
    with pytest.raises(ConfigError, match=r"envs\.test\.env-vars\.DEBUG: must be a string, not int"):
        load(path)
    path = write_config(tmp_path, '[settings.env-vars]\n"1X" = "a"\n')
    with pytest.raises(ConfigError, match=r"settings\.env-vars\.1X: is not a valid environment variable name"):
        load(path)


def test_run_target_grammar_errors(project: Path):
    assert "names no script after `:`" in envsync(project, "run", "dev:").stderr
    extra = envsync(project, "run", "dev:show", "extra")
    assert extra.returncode == 1 and "arguments for a script go after `--`" in extra.stderr
    assert "needs `--` before the command, or ENV:SCRIPT" in envsync(project, "run", "dev").stderr


def test_a_script_of_an_env_without_scripts_says_where_to_declare_them(tmp_path: Path, index: LocalIndex):
    folder = project_with(tmp_path / "project", index, "[envs.dev]\n")
    result = envsync(folder, "run", "dev:test")
    assert result.returncode == 1
    assert "env dev has no scripts" in result.stderr and "[envs.dev.scripts]" in result.stderr


def test_the_help_names_the_grammar():
    result = subprocess.run([sys.executable, "-m", "envsync", "run", "--help"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=False, timeout=60)
    assert "[ENV][:SCRIPT] [-- ARGS...]" in result.stdout and "--parallel" in result.stdout


# -- a matrix: in turn, and side by side ------------------------------------------------------


@pytest.fixture
def matrix(tmp_path: Path, index: LocalIndex) -> tuple[Path, str, str]:
    """The config's one env is a matrix over two Pythons: `:SCRIPT` alone runs in both."""
    found = [version for version in ("3.10", "3.11", "3.12", "3.13") if python_path(version)]
    if len(found) < 2:
        pytest.skip("needs two of CPython 3.10-3.13 under ~/.pyenv/versions")
    old, new = found[0], found[-1]
    folder = project_with(tmp_path / "project", index, f"""
        [envs.test]
        matrix = {{ python = ["{old}", "{new}"] }}
        [envs.test.scripts]
        lines = "python tools.py version-lines {{args}}"
        wait = "python tools.py wait"
    """)
    return folder, old, new


def _name(version: str) -> str:
    return "test-py" + version.replace(".", "")


def test_parallel_prints_each_run_whole_then_the_summary(matrix: tuple[Path, str, str]):
    folder, old, new = matrix
    result = envsync(folder, "run", "--parallel", ":lines", "--", new)  # the newer Python's run fails
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert sorted(lines) == sorted([f"{old} {n}" for n in range(200)] + [f"{new} {n}" for n in range(200)])
    first = lines[0].split()[0]
    assert lines == [f"{first} {n}" for n in range(200)] + [f"{old if first == new else new} {n}" for n in range(200)]
    assert f"==> {_name(old)}: python tools.py version-lines {new}" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == \
        f"==> summary: {_name(old)}: ok, {_name(new)}: failed (exit 4)"  # matrix order, last
    in_turn = envsync(folder, "run", "test:lines", "--", "none")  # without --parallel: in turn, all succeed
    assert in_turn.returncode == 0 and in_turn.stdout.splitlines()[0] == f"{old} 0"
    assert f"==> summary: {_name(old)}: ok, {_name(new)}: ok" in in_turn.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C, and a CI job's timeout
def test_ctrl_c_stops_every_parallel_run_and_exits_130(matrix: tuple[Path, str, str], signum: int):
    folder, old, new = matrix
    assert envsync(folder, "apply").returncode == 0
    merged = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "envsync", "run", "--parallel=2", "test:wait"], cwd=folder,
                               env=merged, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = [folder / f"started-{version}" for version in (old, new)]
        deadline = time.monotonic() + 120  # a bound on waiting, not an assertion about speed
        while not all(path.exists() for path in started) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(path.exists() for path in started), process.stderr.read() if process.poll() is not None else ""
        pids = [int(path.read_text()) for path in started]
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, stderr
    assert f"==> summary: {_name(old)}: interrupted, {_name(new)}: interrupted" in stderr
    # Each run's own output is shown under its header (Python's KeyboardInterrupt traceback), none of envsync's.
    assert str(REPO_ROOT / "envsync") not in stderr and "internal error" not in stderr
    assert stderr.count("KeyboardInterrupt") == 2
    for pid in pids:  # every run was stopped (and reaped) before envsync exited
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize(("argv", "target"), [
    (["--parallel", "test:test"], ("test", "test", (), "cpus")),  # --parallel alone never eats the target
    (["--parallel=3", ":cov", "--", "-k", "not slow"], (None, "cov", ("-k", "not slow"), 3)),
    (["--frozen", "dev", "--", "tool", "-x"], ("dev", None, ("tool", "-x"), None)),
    (["dev", "--parallel=2", "--", "tool"], ("dev", None, ("tool",), 2)),  # options after ENV, as before
])
def test_the_run_grammar(argv: list[str], target: tuple):
    from envsync.cli import build_parser
    from envsync.commands.run import parse_target

    parsed = parse_target(build_parser().parse_args(["run", *argv]))
    env, script, words, parallel = target
    assert (parsed.env, parsed.script, parsed.words) == (env, script, words)
    assert parsed.parallel == ((os.cpu_count() or 1) if parallel == "cpus" else parallel)
