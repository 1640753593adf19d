"""Incremental re-locks: a small config change fetches only what changed.

A lock records each package's Requires-Dist under [tool.envsync]; when the config changes a
little, the pins that still fit are kept from the lock's own data, without reading their
index pages or metadata again. And a project page whose bytes are unchanged is parsed once.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.model import IndexSettings
from envsync.resolve.index import IndexClient


def configure(project: Path, index: LocalIndex, deps: str) -> None:
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = [{deps}]\n')


def ok(project: Path, *args: str):
    result = run_envsync(*args, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def queried(index: LocalIndex) -> set[str]:
    """The projects whose page or metadata was asked for (wheel downloads left out)."""
    names = set()
    for path in index.requests:
        if path.endswith(".whl"):
            continue
        parts = [part for part in path.split("/") if part]
        if parts[:1] == ["simple"] and len(parts) >= 2:
            names.add(parts[1])
        elif path.endswith(".metadata"):
            names.add(parts[-1].split("-")[0].replace("_", "-"))
    return names


def locked(project: Path) -> dict[str, dict]:
    document = tomllib.loads((project / "pylock.dev.toml").read_text())
    return {package["name"]: package for package in document["packages"]}


def publish(index: LocalIndex) -> None:
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib>=1", "extra-only; extra == 'x'"]))
    index.add(WheelSpec("tool", "1.0"))


def test_lock_records_each_package_requires_dist(tmp_path: Path, index: LocalIndex):
    publish(index)
    configure(tmp_path, index, '"app"')
    ok(tmp_path, "lock")
    packages = locked(tmp_path)
    assert packages["app"]["tool"]["envsync"]["requires"] == ["lib>=1", "extra-only; extra == 'x'"]
    assert packages["lib"]["tool"]["envsync"]["requires"] == []


def test_adding_a_package_fetches_only_the_new_one(tmp_path: Path, index: LocalIndex):
    publish(index)
    configure(tmp_path, index, '"app"')
    ok(tmp_path, "lock")
    index.add(WheelSpec("lib", "2.0"))  # newer, but the kept pin still fits
    configure(tmp_path, index, '"app", "tool"')
    index.clear_requests()
    ok(tmp_path, "plan")
    ok(tmp_path, "lock")
    assert queried(index) == {"tool"}
    versions = {name: package["version"] for name, package in locked(tmp_path).items()}
    assert versions == {"app": "1.0", "lib": "1.0", "tool": "1.0"}


def test_a_moved_bound_refetches_only_the_pin_it_no_longer_fits(tmp_path: Path, index: LocalIndex):
    publish(index)
    configure(tmp_path, index, '"app"')
    ok(tmp_path, "lock")
    index.add(WheelSpec("lib", "2.0"))
    configure(tmp_path, index, '"app", "lib>=2"')
    index.clear_requests()
    ok(tmp_path, "lock")
    assert queried(index) == {"lib"}
    assert locked(tmp_path)["lib"]["version"] == "2.0"


def test_an_upgrade_asks_at_once_for_every_package_the_old_lock_named(tmp_path: Path, index: LocalIndex):
    """`lock --upgrade` needs the pages of (nearly) every package the old lock names: it asks for all of
    them from the start rather than one level of the dependency tree per round trip. One asked for and
    no longer needed costs a request, never a place in the new lock."""
    publish(index)
    index.add(WheelSpec("dropped", "1.0"))
    configure(tmp_path, index, '"app", "dropped"')
    ok(tmp_path, "lock")
    configure(tmp_path, index, '"app"')
    index.clear_requests()
    ok(tmp_path, "lock", "--upgrade")
    assert "dropped" in queried(index)
    assert set(locked(tmp_path)) == {"app", "lib"}


def test_a_re_lock_asks_nothing_ahead_for_the_pins_it_keeps(tmp_path: Path, index: LocalIndex):
    """Without --upgrade, the old lock's pins that still fit are kept from the lock: asking ahead for
    their pages would be wasted requests."""
    publish(index)
    configure(tmp_path, index, '"app", "tool"')
    ok(tmp_path, "lock")
    configure(tmp_path, index, '"app"')
    index.clear_requests()
    ok(tmp_path, "lock")
    assert queried(index) == set()
    assert set(locked(tmp_path)) == {"app", "lib"}


def test_a_locked_pin_that_conflicts_falls_back_to_the_index(tmp_path: Path, index: LocalIndex):
    """The kept pin's own dependencies can rule it out: the resolver then reads the index as usual."""
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib<2"]))
    index.add(WheelSpec("app", "2.0", requires=["lib>=2"]))
    configure(tmp_path, index, '"app", "lib<2"')
    ok(tmp_path, "lock")
    assert locked(tmp_path)["app"]["version"] == "1.0"
    configure(tmp_path, index, '"app", "lib>=2"')
    ok(tmp_path, "lock")
    versions = {name: package["version"] for name, package in locked(tmp_path).items()}
    assert versions == {"app": "2.0", "lib": "2.0"}


def test_a_lock_without_recorded_requires_is_re_resolved_from_the_index(tmp_path: Path, index: LocalIndex):
    publish(index)
    configure(tmp_path, index, '"app"')
    ok(tmp_path, "lock")
    path = tmp_path / "pylock.dev.toml"
    lines = path.read_text().splitlines(keepends=True)
    kept, skipping = [], False
    for line in lines:  # drop every `requires = [...]`, as an older envsync wrote the lock
        if line.startswith("requires = "):
            skipping = not line.rstrip().endswith("]")
            continue
        if skipping:
            skipping = not line.startswith("]")
            continue
        kept.append(line)
    path.write_text("".join(kept))
    configure(tmp_path, index, '"app", "tool"')
    index.clear_requests()
    ok(tmp_path, "lock")
    assert queried(index) >= {"app", "lib", "tool"}
    assert locked(tmp_path)["app"]["tool"]["envsync"]["requires"] == ["lib>=1", "extra-only; extra == 'x'"]


def test_unchanged_page_bytes_are_parsed_once_and_a_changed_page_again(index: LocalIndex, monkeypatch):
    from envsync.resolve import page_parsers

    index.add(WheelSpec("lib", "1.0"))
    settings = IndexSettings(index_url=index.url)
    parses = []
    real = page_parsers.project_rows
    monkeypatch.setattr(page_parsers, "project_rows", lambda *args: parses.append(1) or real(*args))

    def files() -> list[str]:
        client = IndexClient(settings)
        try:
            return sorted(artifact.filename for artifact in client.artifacts("lib"))
        finally:
            client.close()

    assert files() == ["lib-1.0-py3-none-any.whl"]
    assert files() == ["lib-1.0-py3-none-any.whl"]
    assert len(parses) == 1
    index.add(WheelSpec("lib", "1.1"))
    assert files() == ["lib-1.0-py3-none-any.whl", "lib-1.1-py3-none-any.whl"]
    assert len(parses) == 2


def test_a_solve_group_re_lock_fetches_only_the_new_package(tmp_path: Path, index: LocalIndex):
    publish(index)

    def group(dev: str) -> None:
        write_config(tmp_path, f'[settings]\nindex-url = "{index.url}"\n'
                               f'[envs.prod]\ndependencies = ["app"]\nsolve-group = "main"\n'
                               f'[envs.dev]\ndependencies = [{dev}]\nsolve-group = "main"\n')

    group('"app"')
    ok(tmp_path, "lock")
    index.add(WheelSpec("lib", "2.0"))
    group('"app", "tool"')
    index.clear_requests()
    ok(tmp_path, "lock")
    assert queried(index) == {"tool"}
    dev = tomllib.loads((tmp_path / "pylock.dev.toml").read_text())
    assert {p["name"]: p["version"] for p in dev["packages"]} == {"app": "1.0", "lib": "1.0", "tool": "1.0"}


def test_pages_keep_the_wheels_of_every_served_interpreter(index: LocalIndex):
    """Files no served interpreter can use are dropped from pages; serving a new interpreter
    reads the pages again with its wheels kept, also when the first filter's parse is cached."""
    index.add(WheelSpec("lib", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64"))
    index.add(WheelSpec("lib", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64"))
    settings = IndexSettings(index_url=index.url)

    def files(*served: list[str]) -> list[str]:
        client = IndexClient(settings)
        try:
            for tags in served:
                client.serve(tags)
            return sorted(artifact.filename for artifact in client.artifacts("lib"))
        finally:
            client.close()

    cp311, cp312 = ["cp311-cp311-manylinux_2_17_x86_64"], ["cp312-cp312-manylinux_2_17_x86_64"]
    assert files() == ["lib-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "lib-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"]
    assert files(cp311) == ["lib-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"]
    assert files(cp312) == ["lib-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"]
    assert len(files(cp311, cp312)) == 2


def test_an_extra_the_package_does_not_provide_is_warned_about_once(tmp_path: Path, index: LocalIndex):
    """As pip and uv do: the resolve goes on, and says which package lacks which extra."""
    index.add(WheelSpec("lib", "1.0", extras={"test": ["tool"]}))
    index.add(WheelSpec("tool", "1.0"))
    configure(tmp_path, index, '"lib[test,nope]"')
    result = ok(tmp_path, "lock")
    assert result.stderr.count("lib 1.0 does not provide the extra 'nope'") == 1, result.stderr
    assert "'test'" not in result.stderr
    assert set(locked(tmp_path)) == {"lib", "tool"}
