"""Dependency confusion: which index a name may come from when several are configured.

Two real local indexes: `public` (index-url) and `private` (extra-index-urls). The public
one also publishes `corp-internal`, at a far higher version, as an attacker would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import client_for, installed, run_envsync, write_config
from localindex import LocalIndex
from packaging.utils import canonicalize_name
from wheelfactory import WheelSpec

from envsync.model import UNSAFE_BEST_MATCH, IndexSettings
from envsync.resolve.index import IndexClient

CORP = canonicalize_name("corp-internal")


@pytest.fixture
def public(tmp_path: Path) -> Iterator[LocalIndex]:
    with LocalIndex(tmp_path / "public") as served:
        served.add(WheelSpec("corp-internal", "99.0"))
        served.add(WheelSpec("requests-ish", "2.0"))
        yield served


@pytest.fixture
def private(tmp_path: Path) -> Iterator[LocalIndex]:
    with LocalIndex(tmp_path / "private") as served:
        served.add(WheelSpec("corp-internal", "1.0", requires=["requests-ish"]))
        yield served


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "project"


def configure(project: Path, public: LocalIndex, private: LocalIndex, extra: str = "") -> None:
    write_config(project, f'[settings]\nindex-url = "{public.url}"\nextra-index-urls = ["{private.url}"]\n'
                          f'{extra}\n[envs.e]\ndependencies = ["corp-internal"]\n')


def planned(project: Path) -> dict[str, str]:
    result = run_envsync("plan", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    (env,) = json.loads(result.stdout)["envs"]
    return {a["package"]: a.get("version") or a.get("to") for a in env["actions"] if "package" in a}


def test_a_name_on_the_private_index_is_never_taken_from_the_public_one(project, public, private):
    configure(project, public, private)
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "e") == {"corp-internal": "1.0", "requests-ish": "2.0"}
    lock = (project / "pylock.e.toml").read_text()
    assert private.base_url in lock and "corp_internal-99.0" not in lock
    assert not [r for r in public.requests if "corp" in r and r.startswith("/files/")]


def test_names_the_private_index_lacks_still_come_from_the_public_one(project, public, private):
    configure(project, public, private)
    assert planned(project) == {"corp-internal": "1.0", "requests-ish": "2.0"}
    assert "/simple/requests-ish/" in private.requests and "/simple/requests-ish/" in public.requests


def test_unsafe_best_match_takes_the_best_version_from_any_index(project, public, private):
    configure(project, public, private, 'index-strategy = "unsafe-best-match"')
    assert planned(project) == {"corp-internal": "99.0"}


def test_index_for_pins_a_package_to_one_index(project, public, private, tmp_path):
    with LocalIndex(tmp_path / "third") as third:
        third.add(WheelSpec("corp-internal", "50.0"))
        # the private index is searched first, yet the pin sends corp-internal to the third one only
        write_config(project, f'[settings]\nindex-url = "{public.url}"\n'
                              f'extra-index-urls = ["{private.url}", "{third.url}/"]\n'
                              'index-strategy = "unsafe-best-match"\n'
                              f'[settings.index-for]\nCorp_Internal = "{third.url}"\n'
                              '[envs.e]\ndependencies = ["corp-internal"]\n')
        assert planned(project) == {"corp-internal": "50.0"}
        assert "/simple/corp-internal/" not in public.requests + private.requests


def test_index_for_protects_a_name_even_when_the_public_index_comes_first(project, public, private):
    """With the private index as index-url and public as an extra, the pin still holds."""
    write_config(project, f'[settings]\nindex-url = "{private.url}"\nextra-index-urls = ["{public.url}"]\n'
                          f'[settings.index-for]\ncorp-internal = "{private.url}"\n'
                          '[envs.e]\ndependencies = ["corp-internal"]\n')
    assert planned(project) == {"corp-internal": "1.0", "requests-ish": "2.0"}


@pytest.mark.parametrize("extra,message", [
    ('index-strategy = "best-match"', "settings.index-strategy"),
    ('[settings.index-for]\ncorp-internal = "https://elsewhere.test/simple"', "not one of the configured indexes"),
    ('[settings.index-for]\n"corp internal" = "x"', "not a valid package name"),
    ('[settings.index-for]\ncorp-internal = 3', "settings.index-for.corp-internal"),
])
def test_bad_index_settings_are_config_errors(project, public, private, extra: str, message: str):
    configure(project, public, private, extra)
    result = run_envsync("plan", cwd=project)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert message in result.stderr and "envs.toml" in result.stderr


def test_changing_the_strategy_or_a_pin_makes_the_lock_stale(project, public, private):
    configure(project, public, private)
    assert run_envsync("lock", cwd=project).returncode == 0
    assert run_envsync("apply", "--locked", cwd=project).returncode == 0
    for extra in ('index-strategy = "unsafe-best-match"', f'[settings.index-for]\ncorp-internal = "{private.url}"'):
        configure(project, public, private, extra)
        stale = run_envsync("apply", "--locked", cwd=project)
        assert stale.returncode == 1 and "out of date" in stale.stderr


def test_the_client_stops_at_the_first_index_that_has_the_project(public, private, clients):
    def client(strategy: str) -> IndexClient:
        made = IndexClient(IndexSettings(index_url=public.url, extra_index_urls=(private.url,), strategy=strategy))
        clients.append(made)
        return made

    assert [a.filename for a in client("first-index").artifacts(CORP)] == ["corp_internal-1.0-py3-none-any.whl"]
    assert sorted(a.filename for a in client(UNSAFE_BEST_MATCH).artifacts(CORP)) == [
        "corp_internal-1.0-py3-none-any.whl", "corp_internal-99.0-py3-none-any.whl"]
    assert client_for(clients, public.url).artifacts(CORP)[0].filename == "corp_internal-99.0-py3-none-any.whl"


def test_an_index_a_requirements_file_adds_is_searched_after_the_configs(project, public, private):
    """`-r vendor/extra.txt` with `--extra-index-url PUBLIC`: the config's private index still
    owns corp-internal (first-index), and the plan names the added index and its line."""
    write_config(project, f'[settings]\nindex-url = "{private.url}"\n'
                          '[envs.e]\nrequirements = ["requirements.txt"]\n')
    (project / "vendor").mkdir(parents=True)
    (project / "requirements.txt").write_text("-r vendor/extra.txt\ncorp-internal\n")
    (project / "vendor" / "extra.txt").write_text(f"--extra-index-url {public.url}\n")
    assert planned(project) == {"corp-internal": "1.0", "requests-ish": "2.0"}
    text = run_envsync("plan", cwd=project)
    assert text.returncode == 0, text.stderr
    lines = [line.strip() for line in text.stdout.splitlines() if line.strip().startswith("index ")]
    assert lines == [f"index {private.url}", f"index {public.url} (from vendor/extra.txt:1)"]
    document = json.loads(run_envsync("plan", "--json", cwd=project).stdout)
    assert document["envs"][0]["indexes"] == [{"url": private.url, "from": None},
                                              {"url": public.url, "from": "vendor/extra.txt:1"}]


def test_a_file_index_also_comes_after_the_configs_extra_indexes(public, private):
    settings = IndexSettings(index_url=public.url, extra_index_urls=(private.url, "http://other/simple"),
                             added_by_files=("http://other/simple",))
    assert settings.search_order() == (private.url, public.url, "http://other/simple")
