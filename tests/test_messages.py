"""Messages that finish the thought: each says what happened once, where, and what to do next."""

from __future__ import annotations

from pathlib import Path

from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.config.toml_errors import explain, open_at


def test_an_unclosed_array_in_the_middle_names_where_it_opened(tmp_path: Path):
    write_config(tmp_path, """
        [settings]
        root = ".envs"

        [envs.dev]
        dependencies = ["requests",
            "rich"

        [envs.lint]
        dependencies = ["ruff"]
        """)
    result = run_envsync("plan", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    # tomllib stops at line 8 ([envs.lint]); the [ was opened at line 5.
    assert "envs.toml: invalid TOML at line 8: unclosed array" in result.stderr
    assert "  8 | [envs.lint]" in result.stderr
    assert "the [ opened at line 5 is never closed:" in result.stderr
    assert '  5 | dependencies = ["requests",' in result.stderr
    assert "hint: close the [ opened at line 5 with ]" in result.stderr


def test_toml_errors_at_the_end_and_in_strings():
    unterminated = explain("envs.toml", 'a = 1\nb = """text\nmore\n', "Unterminated string (at end of document)")
    assert unterminated.message.startswith("envs.toml: invalid TOML at line 3: unterminated string")
    assert 'the string (""") opened at line 2 is never closed' in unterminated.message
    one_line = explain("envs.toml", 'x = 1\na = "abc\nb = 1\n', "Illegal character '\\n' (at line 2, column 9)")
    assert "line 2" in one_line.message and "opened at line" not in one_line.message  # the same line: said once
    assert one_line.hint.startswith('close the string (") opened at line 2')
    plain = explain("envs.toml", "a = 1 2\n", "Expected newline or end of document after a statement (at line 1, column 7)")
    assert plain.hint == "fix the syntax at line 1 of envs.toml" and "  1 | a = 1 2" in plain.message
    # Brackets inside strings and comments are not openings.
    assert open_at('a = "[" # [\nb = [1,\n', 3, 1) == open_at("\nb = [1,\n", 3, 1)


def test_a_multi_platform_resolve_error_names_the_env_and_hint_once(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("newpy", "1.0", requires_python=">=3.99"))
    write_config(tmp_path, f"""
        [settings]
        index-url = "{index.url}"
        [envs.bench]
        dependencies = ["newpy"]
        environments = ["sys_platform == 'linux' and platform_machine == 'x86_64'"]
        """)
    result = run_envsync("plan", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("env bench") == 1, result.stderr
    assert result.stderr.count("hint:") == 1
    assert "env bench on Linux x86_64" in result.stderr
    assert "change newpy (envs.bench.dependencies) to allow other versions of newpy" in result.stderr


def test_did_you_mean_counts_a_swap_as_one_edit_and_prefers_known_names(tmp_path: Path, index: LocalIndex):
    """`reqeusts` is one swap from `requests` and two edits from `reqwests`: requests first, from
    the index's own list; and among names as close, the one the config already uses first."""
    for name in ("requests", "reqwests", "numpy", "numpy2"):
        index.add(WheelSpec(name, "1.0"))
    write_config(tmp_path, f"""
        [settings]
        index-url = "{index.url}"
        [envs.dev]
        dependencies = ["reqeusts"]
        [envs.other]
        dependencies = ["numpy2"]
        """)
    result = run_envsync("plan", "dev", cwd=tmp_path)
    assert result.returncode == 1
    assert "did you mean 'requests' or 'reqwests'?" in result.stderr, result.stderr

    from envsync.resolve.suggest import close_names

    assert close_names("numpyy", ["numpy", "numpy2", "numba"], preferred=["numpy2"])[:2] == ["numpy2", "numpy"]
    assert close_names("numpyy", ["numpy", "numpy2"])[:2] == ["numpy", "numpy2"]


def test_apply_says_which_orphan_lock_it_deletes(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    config = f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["lib"]\n'
    (tmp_path / "envs.toml").write_text(config + '[envs.old]\ndependencies = ["lib"]\n')
    assert run_envsync("apply", cwd=tmp_path).returncode == 0
    (tmp_path / "envs.toml").write_text(config)
    assert "lock: pylock.old.toml will be removed" in run_envsync("plan", cwd=tmp_path).stdout
    result = run_envsync("apply", cwd=tmp_path)
    assert result.returncode == 0
    assert "removed pylock.old.toml (its env is no longer declared)" in result.stdout
    assert not (tmp_path / "pylock.old.toml").exists()


def test_plan_says_how_much_it_will_download(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0", files={"lib/__init__.py": "x = 1\n" * 40_000}))
    index.add(WheelSpec("tool", "0.5"))
    config = f'[settings]\nindex-url = "{index.url}"\n[envs.a]\ndependencies = ["lib", "tool"]\n'
    write_config(tmp_path, config)
    sizes = sum(file.path.stat().st_size for project in ("lib", "tool") for file in index.files(project))
    plan = run_envsync("plan", cwd=tmp_path)
    assert f"  fetch: 2 files, {sizes / 1e6:.1f} MB to download" in plan.stdout, plan.stdout
    assert plan.stdout.rstrip().endswith(f"To download: 2 files, {sizes / 1e6:.1f} MB.")
    import json

    document = json.loads(run_envsync("plan", "--json", cwd=tmp_path).stdout)
    assert document["envs"][0]["download"] == {"files": 2, "bytes": sizes}
    assert run_envsync("apply", cwd=tmp_path).returncode == 0
    # A second env with what the cache now holds: nothing to download, nothing said.
    write_config(tmp_path, config + '[envs.b]\ndependencies = ["lib"]\n')
    again = run_envsync("plan", cwd=tmp_path)
    assert "to download" not in again.stdout.lower() and "+ install  lib 1.0" in again.stdout


SETUPTOOLS_PROJECT = """
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "noisy"
version = "0.1.0"
"""


def test_a_builds_output_goes_to_a_log_named_when_it_fails_or_under_v(tmp_path: Path, build_index: LocalIndex):
    import os
    import re

    folder = tmp_path / "noisy"
    (folder / "noisy").mkdir(parents=True)
    (folder / "noisy" / "__init__.py").write_text("")
    (folder / "pyproject.toml").write_text(SETUPTOOLS_PROJECT)
    (folder / "setup.py").write_text("import sys\nprint('BackendWarning: lots of noise', file=sys.stderr)\n"
                                     "from setuptools import setup\nsetup()\n")
    write_config(folder, f'[settings]\nindex-url = "{build_index.url}"\n[envs.dev]\nproject = "."\n')
    quiet = run_envsync("apply", cwd=folder, timeout=600)
    assert quiet.returncode == 0, quiet.stderr
    assert "lots of noise" not in quiet.stdout + quiet.stderr
    logs = Path(os.environ["ENVSYNC_CACHE_DIR"]) / "build-logs"
    assert any("lots of noise" in log.read_text() for log in logs.glob("*.log"))

    (folder / "setup.py").write_text("raise SystemExit('cannot be built: missing thing')\n")
    (folder / "pyproject.toml").write_text(SETUPTOOLS_PROJECT.replace('version = "0.1.0"', 'version = "0.2.0"'))
    failed = run_envsync("apply", cwd=folder, timeout=600)
    assert failed.returncode == 1 and "cannot be built: missing thing" in failed.stderr
    shown = re.search(r"its whole output: (\S+\.log)", failed.stderr)
    assert shown and "cannot be built: missing thing" in Path(shown[1]).read_text()

    (folder / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    verbose = run_envsync("apply", "-v", cwd=folder, timeout=600)
    assert verbose.returncode == 0, verbose.stderr
    assert re.search(r"built .*noisy.*; the build backend's output is in \S+\.log", verbose.stderr), verbose.stderr

