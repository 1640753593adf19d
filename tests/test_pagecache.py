"""The HTTP cache of index pages: no request while fresh, a 304 once stale, --refresh asks again."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def relock(project: Path) -> None:
    (project / "pylock.e.toml").unlink()
    result = run_envsync("lock", cwd=project)
    assert result.returncode == 0, result.stderr


def asked_with_validators(index: LocalIndex) -> list[bool]:
    """For each page request since the last clear: did it carry If-None-Match?"""
    return ["if-none-match" in headers for _, headers in pages(index)]


def cached_pages() -> list[Path]:
    from envsync.files.cache import cache_dir

    folder = cache_dir() / "pages"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def test_age_counts_against_max_age(tmp_path: Path, index: LocalIndex):
    """A page a CDN has held for all of its max-age is stale on arrival: revalidated at next use."""
    index.cache_control, index.age = "max-age=600, public", "600"
    project = setup(tmp_path, index)
    assert run_envsync("lock", cwd=project).returncode == 0
    index.clear_requests()
    relock(project)
    assert asked_with_validators(index) == [True, True]


def test_a_page_younger_than_its_max_age_is_still_fresh(tmp_path: Path, index: LocalIndex):
    index.cache_control, index.age = "max-age=600, public", "100"
    project = setup(tmp_path, index)
    assert run_envsync("lock", cwd=project).returncode == 0
    index.clear_requests()
    relock(project)
    assert pages(index) == []


def test_no_cache_pages_are_revalidated_at_every_use(tmp_path: Path, index: LocalIndex):
    index.cache_control = "max-age=600, no-cache"
    project = setup(tmp_path, index)
    assert run_envsync("lock", cwd=project).returncode == 0
    for _ in range(2):
        index.clear_requests()
        relock(project)
        assert asked_with_validators(index) == [True, True]


def test_no_store_pages_are_not_kept_and_a_kept_one_is_dropped(tmp_path: Path, index: LocalIndex):
    project = setup(tmp_path, index)  # kept first: an ETag and no max-age
    assert run_envsync("lock", cwd=project).returncode == 0
    assert len(cached_pages()) == 2
    index.cache_control = "max-age=600, no-store"
    index.clear_requests()
    relock(project)  # revalidated (the 304 says no-store): dropped
    assert asked_with_validators(index) == [True, True]
    assert cached_pages() == []
    index.clear_requests()
    relock(project)
    assert asked_with_validators(index) == [False, False]
    assert cached_pages() == []


@pytest.mark.parametrize("vary", ["Accept, Cookie", "*", "Authorization"])
def test_a_page_that_varies_on_other_headers_is_not_reused(tmp_path: Path, index: LocalIndex, vary: str):
    index.cache_control, index.vary = "max-age=600", vary
    project = setup(tmp_path, index)
    assert run_envsync("lock", cwd=project).returncode == 0
    index.clear_requests()
    relock(project)
    assert asked_with_validators(index) == [False, False]
    assert cached_pages() == []


def test_a_page_that_varies_on_accept_and_encoding_is_reused(tmp_path: Path, index: LocalIndex):
    index.cache_control, index.vary = "max-age=600", "Accept, Accept-Encoding"
    project = setup(tmp_path, index)
    assert run_envsync("lock", cwd=project).returncode == 0
    index.clear_requests()
    relock(project)
    assert pages(index) == []


@pytest.mark.parametrize("headers,fresh_for,kept", [
    ({"cache-control": "max-age=600"}, 600, True),
    ({"cache-control": "max-age=600", "age": "250"}, 350, True),
    ({"cache-control": "max-age=600", "age": "900"}, 0, True),
    ({"cache-control": "max-age=600", "age": "soon"}, 0, True),  # not a number: stale at once
    ({"cache-control": "public, max-age=600, no-cache"}, 0, True),
    ({"cache-control": "s-maxage=600"}, 0, True),
    ({"cache-control": "max-age=600, no-store"}, 600, False),
    ({"cache-control": "max-age=600", "vary": "accept-encoding,ACCEPT"}, 600, True),
    ({"cache-control": "max-age=600", "vary": "User-Agent"}, 600, False),
    ({}, 0, True),
])
def test_cache_headers_are_read_as_http_means_them(headers: dict[str, str], fresh_for: float, kept: bool):
    from envsync.resolve import pagecache

    assert pagecache.freshness(headers) == fresh_for
    assert pagecache.storable(headers) is kept


def test_parsed_rows_give_the_artifacts_their_fields_name():
    """Kept page rows are turned into Artifacts without their __init__ (a cold resolve makes 28,753):
    each must be the Artifact those fields make, equal and hashing alike, and still frozen."""
    import dataclasses
    import marshal

    from envsync.model import Artifact
    from envsync.resolve.pagecache import artifacts_from_rows

    rows = [("lib-1.0-py3-none-any.whl", "https://x/lib-1.0-py3-none-any.whl", "a" * 64, 10, ">=3.9", False, None,
             True, "b" * 64, "https://x/simple/"),
            ("lib-1.0.tar.gz", "https://x/lib-1.0.tar.gz", None, None, None, True, "broken", False, None, None)]
    made = artifacts_from_rows(marshal.dumps(rows))
    assert made == [Artifact(*row) for row in rows]
    assert {hash(a) for a in made} == {hash(Artifact(*row)) for row in rows}
    with pytest.raises(dataclasses.FrozenInstanceError):
        made[0].url = "elsewhere"  # type: ignore[misc]


@pytest.mark.parametrize("damaged", [{"not": "a list"}, [("too", "short")], [["a", "list"] * 5], [None]])
def test_a_damaged_parsed_entry_is_refused(damaged: object):
    """A kept entry that is not rows of an Artifact's fields is a cache miss (the caller parses the page again)."""
    import marshal

    from envsync.resolve.pagecache import artifacts_from_rows

    with pytest.raises(ValueError):
        artifacts_from_rows(marshal.dumps(damaged))
