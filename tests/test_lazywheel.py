"""Metadata from a few HTTP range requests when the index offers no PEP 658 files."""

from __future__ import annotations

from pathlib import Path

from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


def test_metadata_is_read_with_ranges_not_whole_wheels(tmp_path: Path):
    with LocalIndex(tmp_path / "idx", metadata=False) as index:
        index.ranges = True
        files = {f"heavy/part{i}.py": f"# {i}\n" + "x = 1\n" * 20_000 for i in range(10)}
        index.add(WheelSpec("heavy", "1.0", requires=["light"], files={**files, "heavy/__init__.py": ""}))
        index.add(WheelSpec("light", "1.0"))
        project = tmp_path / "project"
        write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["heavy"]\n')
        result = run_envsync("lock", cwd=project)
        assert result.returncode == 0, result.stderr
        assert 'name = "light"' in (project / "pylock.e.toml").read_text()
        wheel_requests = [h for path, h in index.request_headers if path.endswith(".whl")]
        assert wheel_requests and all("range" in headers for headers in wheel_requests)
        assert not [p for p in index.requests if p.endswith(".metadata")]


def test_a_server_without_ranges_still_works(tmp_path: Path):
    with LocalIndex(tmp_path / "idx", metadata=False) as index:  # ranges off: 200 with the whole file
        index.add(WheelSpec("heavy", "1.0", requires=["light"]))
        index.add(WheelSpec("light", "1.0"))
        project = tmp_path / "project"
        write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["heavy"]\n')
        result = run_envsync("apply", cwd=project)
        assert result.returncode == 0, result.stderr
