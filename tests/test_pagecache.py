"""The HTTP cache of index pages: no request while fresh, a 304 once stale, --refresh asks again."""

from __future__ import annotations

from pathlib import Path

from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


def pages(index: LocalIndex) -> list[tuple[str, dict[str, str]]]:
    return [(path, headers) for path, headers in index.request_headers if path.startswith("/simple/")]


def setup(tmp_path: Path, index: LocalIndex) -> Path:
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib"]))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["app"]\n')
    return project


def test_fresh_pages_are_not_asked_for_again(tmp_path: Path, index: LocalIndex):
    index.cache_control = "max-age=600, public"
    project = setup(tmp_path, index)
    assert run_envsync("lock", cwd=project).returncode == 0
    assert len(pages(index)) == 2
    index.clear_requests()
    assert run_envsync("lock", "--upgrade", "--refresh", cwd=project).returncode == 0  # asks again
    assert len(pages(index)) == 2
    index.clear_requests()
    (project / "pylock.e.toml").unlink()
    assert run_envsync("lock", cwd=project).returncode == 0
    assert pages(index) == [], "fresh pages must come from the cache"


def test_stale_pages_are_revalidated_and_changes_seen(tmp_path: Path, index: LocalIndex):
    project = setup(tmp_path, index)  # no max-age: every use revalidates with the ETag
    assert run_envsync("lock", cwd=project).returncode == 0
    index.clear_requests()
    (project / "pylock.e.toml").unlink()
    assert run_envsync("lock", cwd=project).returncode == 0
    assert all("If-None-Match" in {k.title(): v for k, v in headers.items()} for _, headers in pages(index))
    index.add(WheelSpec("lib", "2.0"))
    (project / "pylock.e.toml").unlink()
    assert run_envsync("lock", cwd=project).returncode == 0
    assert 'version = "2.0"' in (project / "pylock.e.toml").read_text()
