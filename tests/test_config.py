"""Loading envs.toml: what a valid file gives, and the message each mistake gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_envsync, write_config

from envsync.config.load import find_config, load
from envsync.errors import ConfigError


def names(reqs) -> list[str]:
    return [str(r) for r in reqs]


def test_full_config_loads_with_inheritance_and_defaults(tmp_path: Path):
    path = write_config(tmp_path, """
        [settings]
        python = "3.11"
        index-url = "http://127.0.0.1:1/simple/"
        find-links = ["wheels"]

        [envs.base]
        dependencies = ["requests>=2.31", "rich"]

        [envs.dev]
        inherits = ["base"]
        python = "3.12"
        path = ".venv"
        dependencies = ["pytest>=8", "rich"]
    """)
    config = load(path)
    base, dev = config.envs
    assert base.path == tmp_path / ".envs" / "base" and base.display_path == ".envs/base"
    assert base.python == "3.11" and dev.python == "3.12"
    assert dev.path == tmp_path / ".venv"
    assert names(dev.requirements) == ["pytest>=8", "rich", "requests>=2.31"]
    assert dev.index.index_url == "http://127.0.0.1:1/simple"
    assert dev.index.find_links == (str(tmp_path / "wheels"),)


def test_environment_variables_replace_index_settings(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ENVSYNC_INDEX_URL", "http://mirror/simple")
    monkeypatch.setenv("ENVSYNC_EXTRA_INDEX_URLS", "http://a/simple http://b/simple")
    config = load(write_config(tmp_path, '[settings]\nindex-url = "http://x/simple"\n[envs.a]\n'))
    assert config.envs[0].index.index_url == "http://mirror/simple"
    assert config.envs[0].index.extra_index_urls == ("http://a/simple", "http://b/simple")


def test_dependency_groups_come_from_pyproject(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[dependency-groups]\ntest = ["pytest>=8", {include-group = "lint"}]\nlint = ["ruff"]\n')
    config = load(write_config(tmp_path, '[envs.t]\ngroups = ["test"]\n'))
    assert names(config.envs[0].requirements) == ["pytest>=8", "ruff"]



BAD_GROUPS = {
    "a table, not a list": ('[dependency-groups.test]\na = 1\n', ["dependency-groups.test", "table, not a list"]),
    "include of a missing group": ('[dependency-groups]\ntest = [{include-group = "lnt"}]\nlint = []\n',
                                   ["dependency-groups.test[0]", "'lnt'", "'lint'"]),
    "include cycle": ('[dependency-groups]\ntest = [{include-group = "lint"}]\nlint = [{include-group = "test"}]\n',
                      ["dependency-groups.", "cycle test -> lint -> test"]),
    "includes itself": ('[dependency-groups]\ntest = [{include-group = "Test"}]\n', ["cycle test -> test"]),
    "a number among the strings": ('[dependency-groups]\ntest = ["rich", 3]\n', ["dependency-groups.test[1]", "3"]),
    "a table with other keys": ('[dependency-groups]\ntest = [{include = "x"}]\n', ["dependency-groups.test[0]"]),
    "an include that is not a string": ('[dependency-groups]\ntest = [{include-group = 1}]\n',
                                        ["dependency-groups.test[0]"]),
    "bad pep 508": ('[dependency-groups]\ntest = ["bad>>1"]\n', ["dependency-groups.test[0]", "PEP 508"]),
    "not a table": ('dependency-groups = ["test"]\n', ["dependency-groups", "not a table"]),
    "names that normalise alike": ('[dependency-groups]\ntest = []\nTEST = []\n', ["same group"]),
}


@pytest.mark.parametrize("pyproject,expected", list(BAD_GROUPS.values()), ids=list(BAD_GROUPS))
def test_malformed_dependency_groups_are_config_errors(tmp_path: Path, pyproject: str, expected: list[str]):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    with pytest.raises(ConfigError) as caught:
        load(write_config(tmp_path, '[envs.t]\ngroups = ["test"]\n'))
    message = str(caught.value)
    assert message.startswith("pyproject.toml")
    for fragment in expected:
        assert fragment in message


def test_group_names_ignore_case_and_separators(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[dependency-groups]\nType_Check = ["mypy"]\ndev = [{include-group = "type-check"}, "mypy", "ruff"]\n')
    config = load(write_config(tmp_path, '[envs.t]\ngroups = ["dev", "TYPE.CHECK"]\n'))
    assert names(config.envs[0].requirements) == ["mypy", "ruff"]

BAD = {
    "invalid toml names the line": ('[envs.a\ndependencies = []\n', ["invalid TOML", "line 1"]),
    "unknown key with suggestion": ('[envs.a]\npythn = "3.11"\n', ["envs.a.pythn", "unknown key", "'python'"]),
    "unknown settings key": ('[settings]\nindex_url = "x"\n', ["settings.index_url", "unknown key", "index-url"]),
    "wrong type": ('[envs.a]\ndependencies = "requests"\n', ["envs.a.dependencies", "valid list"]),
    "bad pep 508 names the position": ('[envs.a]\ndependencies = ["ok", "bad>>1"]\n',
                                        ["envs.a.dependencies[1]", "'bad>>1'", "PEP 508"]),
    "dotted env name": ('[envs."py3.12"]\n', ["py3.12", "py3-12", "pylock"]),
    "env name with a space": ('[envs."my env"]\n', ["invalid env name"]),
    "unknown inherits": ('[envs.a]\ninherits = ["bse"]\n[envs.base]\n', ["envs.a.inherits[0]", "'bse'", "'base'"]),
    "inherits cycle": ('[envs.a]\ninherits = ["b"]\n[envs.b]\ninherits = ["a"]\n', ["cycle", "a -> b -> a"]),
    "case collision": ('[envs.Dev]\n[envs.dev]\n', ["differ only in case"]),
    "shared path": ('[envs.a]\npath = "x"\n[envs.b]\npath = "x"\n', ["same path"]),
    "unknown group": ('[envs.a]\ngroups = ["tst"]\n', ["pyproject.toml"]),
    "index-url that is not a url": ('[settings]\nindex-url = "http://[bad"\n[envs.a]\n',
                                    ["settings.index-url", "not a valid URL"]),
    "unsupported url scheme": ('[settings]\nextra-index-urls = ["ftp://x/simple"]\n[envs.a]\n',
                               ["settings.extra-index-urls[0]", "ftp://"]),
    "empty path": ('[envs.a]\npath = ""\n', ["envs.a.path"]),
    "empty python": ('[envs.a]\npython = ""\n', ["envs.a.python"]),
    "bad solve-group name": ('[envs.a]\nsolve-group = "a b"\n', ["envs.a.solve-group", "invalid group name"]),
    "empty solve-group": ('[envs.a]\nsolve-group = ""\n', ["envs.a.solve-group"]),
}


@pytest.mark.parametrize("text,expected", list(BAD.values()), ids=list(BAD))
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, expected: list[str]):
    path = tmp_path / "envs.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith("envs.toml") or "pyproject" in message
    for fragment in expected:
        assert fragment in message


def test_config_is_found_in_a_parent_folder(tmp_path: Path):
    write_config(tmp_path, "[envs.a]\n")
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    assert find_config(None, nested) == tmp_path / "envs.toml"
    with pytest.raises(ConfigError, match="no envs.toml found"):
        find_config(None, Path("/"))


def test_cli_reports_config_errors_without_traceback(tmp_path: Path):
    write_config(tmp_path, '[envs.a]\ndependencies = ["requests>>"]\n')
    result = run_envsync("plan", cwd=tmp_path)
    assert result.returncode == 1
    assert "envs.a.dependencies[0]" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_unknown_env_on_command_line_gets_did_you_mean(tmp_path: Path):
    write_config(tmp_path, "[envs.docs]\n")
    result = run_envsync("plan", "doc", cwd=tmp_path)
    assert result.returncode == 1 and "did you mean 'docs'" in result.stderr


def test_usage_error_exits_1(tmp_path: Path):
    result = run_envsync("plan", "--no-such-flag", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_global_options_work_before_or_after_the_command(tmp_path: Path):
    write_config(tmp_path / "elsewhere", '[envs.docs]\n')
    config = str(tmp_path / "elsewhere" / "envs.toml")
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (("-c", config, "list"), ("list", "-c", config), ("-q", "list", "-c", config)):
        result = run_envsync(*args, cwd=empty)
        assert result.returncode == 0, (args, result.stderr)
        assert "docs" in result.stdout


# -- the config cache ----------------------------------------------------------------------------

def cache_entries() -> list[Path]:
    from envsync.files.cache import cache_dir

    return sorted((cache_dir() / "configs").iterdir())


class _OpensAFile:
    """Unpickling this creates `marker`: proof that a cache entry's bytes were run as code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_planted_in_the_config_cache_is_never_run(tmp_path: Path):
    import pickle

    path = write_config(tmp_path / "project", '[envs.a]\ndependencies = ["rich"]\n')
    load(path)
    marker = tmp_path / "unpickled"
    for entry in cache_entries():
        entry.write_bytes(pickle.dumps(_OpensAFile(marker)))  # in place: owner and mode stay ours
    assert names(load(path).envs[0].requirements) == ["rich"]
    assert not marker.exists()


def test_a_config_cache_entry_anyone_else_could_have_written_is_ignored(tmp_path: Path):
    import json
    import os

    path = write_config(tmp_path / "project", '[envs.a]\ndependencies = ["rich"]\n')
    load(path)
    [entry] = cache_entries()
    document = json.loads(entry.read_text())
    document["config"]["envs"]["$tuple"][0]["requirements"] = {"$tuple": [{"$requirement": "evil"}]}
    entry.write_text(json.dumps(document))
    assert names(load(path).envs[0].requirements) == ["evil"]  # our own entry is trusted: it is read
    entry.chmod(0o644)
    assert names(load(path).envs[0].requirements) == ["rich"]  # others could read or replace it
    if os.getuid() == 0:  # only root can give a file away
        entry.write_text(json.dumps(document))
        entry.chmod(0o600)
        os.chown(entry, 65534, 65534)
        assert names(load(path).envs[0].requirements) == ["rich"]  # someone else's file



def test_a_config_cache_entry_that_is_a_folder_or_a_link_is_ignored(tmp_path: Path):
    path = write_config(tmp_path / "project", '[envs.a]\ndependencies = ["rich"]\n')
    load(path)
    [entry] = cache_entries()
    entry.unlink()
    entry.mkdir(mode=0o700)
    assert names(load(path).envs[0].requirements) == ["rich"]
    entry.rmdir()
    other = tmp_path / "elsewhere.json"
    other.write_text("{}")
    other.chmod(0o600)
    entry.symlink_to(other)
    assert names(load(path).envs[0].requirements) == ["rich"]

def test_config_cache_entries_are_private(tmp_path: Path):
    from envsync.files.cache import cache_dir

    (cache_dir() / "configs").mkdir(mode=0o755, parents=True)
    load(write_config(tmp_path, '[envs.a]\ndependencies = ["rich"]\n'))
    [entry] = cache_entries()
    assert entry.stat().st_mode & 0o777 == 0o600
    assert entry.parent.stat().st_mode & 0o777 == 0o700


def test_a_cached_config_equals_a_validated_one_and_skips_validation(tmp_path: Path, monkeypatch):
    import envsync.config.load as loader

    (tmp_path / "pyproject.toml").write_text('[dependency-groups]\ntest = ["pytest>=8; python_version >= \'3.9\'"]\n')
    path = write_config(tmp_path, """
        [settings]
        index-url = "http://127.0.0.1:1/simple/"
        extra-index-urls = ["http://127.0.0.1:2/simple"]
        find-links = ["wheels"]
        prereleases = true
        [envs.a]
        dependencies = ["requests[socks]>=2.31,<3", "rich"]
        groups = ["test"]
        [envs.b]
        python = "3.12"
        path = "elsewhere/b"
    """)
    validated = load(path)

    def refuse(path: Path):
        raise AssertionError("validated again: the cache was not used")

    monkeypatch.setattr(loader, "_load", refuse)
    assert load(path) == validated


def test_every_input_of_a_config_names_its_own_cache_entry(tmp_path: Path, monkeypatch):
    import packaging

    import envsync

    path = write_config(tmp_path / "project", '[envs.a]\npath = "~/envs/a"\n')
    monkeypatch.setenv("HOME", str(tmp_path / "one"))
    assert load(path).envs[0].path == tmp_path / "one" / "envs" / "a"
    monkeypatch.setenv("HOME", str(tmp_path / "two"))
    assert load(path).envs[0].path == tmp_path / "two" / "envs" / "a"
    monkeypatch.setenv("ENVSYNC_INDEX_URL", "http://mirror/simple")
    assert load(path).envs[0].index.index_url == "http://mirror/simple"
    assert len(cache_entries()) == 3
    monkeypatch.setattr(packaging, "__version__", "0.0.1")
    load(path)
    monkeypatch.setattr(envsync, "__version__", "0.0.1")
    load(path)
    (tmp_path / "project" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    load(path)
    assert len(cache_entries()) == 6


def test_the_config_cache_keeps_every_field_of_a_rich_config(tmp_path: Path):
    """Requirements and constraints files with hashes, a solve group, index priority and pins,
    a local project and seeds: what comes back from the cache is equal, field for field, to
    what validation made."""
    from envsync.config import cached

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\n')
    (tmp_path / "constraints.txt").write_text("lib<3\n")
    (tmp_path / "requirements.txt").write_text(
        "-c constraints.txt\napp==1.0 --hash=sha256:" + "a" * 64 + "\n")
    write_config(tmp_path, """
        [settings]
        index-url = "https://example.org/simple"
        extra-index-urls = ["https://corp.example/simple"]
        index-strategy = "unsafe-best-match"

        [settings.index-for]
        corp-internal = "https://corp.example/simple"

        [envs.prod]
        requirements = ["requirements.txt"]
        solve-group = "main"

        [envs.app]
        project = { path = "app", extras = ["cli"] }
        seed = ["pip"]

        [envs.dev]
        inherits = ["prod"]
        dependencies = ["rich>=13; python_version >= '3.8'", "Foo_Bar[extra]"]
        solve-group = "main"
    """)
    config = load(tmp_path / "envs.toml")
    again = cached.decode(cached.encode(config))
    assert again == config
    assert [env.hashes for env in again.envs] == [env.hashes for env in config.envs]
    assert again.envs[0].index.index_for == config.envs[0].index.index_for != ()
    assert again.files == config.files != ()
    assert again.env("app").projects == config.env("app").projects != ()
    assert again.env("app").seed == ("pip",)
