"""The `envsync` command compiles the methods dataclasses writes once per Python build and keeps
them in the cache (envsync/dataclass_code.py). Each test runs a fresh interpreter: the hook is set
for the command's process only, never for this one."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import REPO_ROOT, run_envsync, write_config


def cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("compiled/dataclass-methods-*.marshal"))


def python(code: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVSYNC_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_run_keeps_the_compiled_methods_and_the_next_run_compiles_none(tmp_path: Path):
    cache = tmp_path / "cache"
    write_config(tmp_path, "[envs.dev]\ndependencies = []\n")
    env = {"ENVSYNC_CACHE_DIR": str(cache)}
    for command in ("lock", "plan"):  # each imports classes of its own
        result = run_envsync(command, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
    (kept,) = cache_files(cache)
    stamp = kept.stat()
    again = run_envsync("plan", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    # Nothing new compiled: the file was not written again (a write replaces it: a new inode).
    assert kept.stat().st_ino == stamp.st_ino and kept.stat().st_mtime_ns == stamp.st_mtime_ns


def test_classes_made_from_kept_code_behave_as_compiled_ones(tmp_path: Path):
    """The same checks in a run that compiles (empty cache) and in one that reads the kept code."""
    check = """
        import sys
        from envsync import dataclass_code
        dataclass_code.install()
        assert "dataclasses" not in sys.modules  # the no-op plan's start-up does not pay for it

        from envsync.model import Artifact, IndexSettings
        import dataclasses
        assert sys.modules["dataclasses"].exec is dataclass_code._exec

        a = Artifact("a-1.0-py3-none-any.whl", "https://x/a", "0" * 64, size=3)
        b = Artifact("a-1.0-py3-none-any.whl", "https://x/a", "0" * 64, size=3)
        assert a == b and hash(a) == hash(b) and a != dataclasses.replace(b, size=4)
        assert repr(a).startswith("Artifact(filename='a-1.0-py3-none-any.whl', url='https://x/a'")
        try:
            a.size = 5
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise AssertionError("a frozen dataclass took an assignment")
        assert IndexSettings("https://x/simple").extra_index_urls == ()

        @dataclasses.dataclass
        class Plain:
            items: list = dataclasses.field(default_factory=list)
        first, second = Plain(), Plain()
        first.items.append(1)
        assert second.items == [] and Plain([1]) == first
        # Compiled as dataclasses compiles it: no __future__ flag of envsync's own modules.
        assert Plain.__init__.__annotations__ == {"items": list, "return": None}
        dataclass_code.save()
        print(len(dataclass_code._compiled))
    """
    cache = tmp_path / "cache"
    compiling = python(check, cache)
    assert compiling.returncode == 0, compiling.stderr
    assert int(compiling.stdout) > 20
    (kept,) = cache_files(cache)
    reading = python(check, cache)
    assert reading.returncode == 0, reading.stderr
    assert reading.stdout == compiling.stdout


def locked_once(project: Path) -> tuple[Path, dict[str, str]]:
    """A config locked once with its own cache: the kept compiled code, and the variables of that cache."""
    cache = project / "cache"
    write_config(project, "[envs.dev]\ndependencies = []\n")
    env = {"ENVSYNC_CACHE_DIR": str(cache)}
    assert run_envsync("lock", cwd=project, env=env).returncode == 0
    (kept,) = cache_files(cache)
    return kept, env


def test_a_damaged_cache_file_only_means_compiling_again(tmp_path: Path):
    kept, env = locked_once(tmp_path)
    good = kept.read_bytes()
    assert kept.stat().st_mode & 0o777 == 0o600 and kept.parent.stat().st_mode & 0o777 == 0o700
    for damage in (good[: len(good) // 2], b"not marshal at all", b"\xe9" * 10):
        kept.write_bytes(damage)
        result = run_envsync("plan", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert len(marshal.loads(kept.read_bytes())) > 20  # written again, whole


def test_code_anyone_else_could_have_written_is_not_run(tmp_path: Path):
    """Code is run from this entry: one that others may write (or read) is compiled afresh and replaced."""
    kept, env = locked_once(tmp_path)
    kept.chmod(0o666)
    planted = kept.stat().st_ino
    result = run_envsync("lock", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert kept.stat().st_ino != planted and kept.stat().st_mode & 0o777 == 0o600
