"""The wording of resolution failures, from plain facts: the true reason named, the wrong one absent."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from envsync.resolve.explain import (
    MAX_LINES,
    Context,
    Demand,
    FileFact,
    explain,
    pinned_exactly,
    ranges,
)

V = Version
CTX = Context(env="dev", python="3.11.4", tags=("cp311-cp311-manylinux_2_17_x86_64", "py3-none-any"),
              index="http://127.0.0.1/simple")


def wheel(version: str, **kw) -> FileFact:
    return FileFact(V(version), wheel=True, tag=kw.pop("tag", "py3-none-any"), **kw)


def sdist(version: str, **kw) -> FileFact:
    return FileFact(V(version), wheel=False, supported=False, **kw)


def asked(text: str, origin: str = "envs.dev.dependencies") -> Demand:
    return Demand(Requirement(text), f"you asked for it ({origin})", f"{text} ({origin})")


def needed(text: str, by: str, root: str) -> Demand:
    return Demand(Requirement(text), f"needed by {by}, which you asked for as {root}", root)


@pytest.mark.parametrize(("selected", "universe", "expected"), [
    (["1.0"], ["1.0", "2.0"], "1.0"),
    (["1.0", "1.1", "1.2"], ["1.0", "1.1", "1.2", "2.0"], "1.0 to 1.2"),
    (["1.0", "1.2"], ["1.0", "1.1", "1.2"], "1.0, 1.2"),
    (["1", "3", "5", "7"], ["1", "2", "3", "4", "5", "6", "7"], "1, 3, 5, and 1 more"),
])
def test_ranges(selected, universe, expected):
    assert ranges(map(V, selected), map(V, universe)) == expected


@pytest.mark.parametrize(("pin", "version", "expected"), [
    ("a==1.0.0", "1.0", True), ("a==1.0", "1.0.0", True), ("a===1.0", "1.0", True),
    ("a===1.0.0", "1.0", False), ("a==1.*", "1.0", False), ("a>=1.0", "1.0", False),
])
def test_exact_pins_compare_as_versions(pin, version, expected):
    assert pinned_exactly(V(version), [Requirement(pin)]) is expected


def test_no_such_version_names_what_exists_and_not_sdists():
    files = [wheel("2.31.0"), sdist("2.31.0"), wheel("2.32.3"), sdist("2.32.3"), wheel("3.0b1")]
    found = explain("requests", files, {V("2.31.0"): False, V("2.32.3"): False, V("3.0b1"): False},
                    [asked("requests==99")], CTX)
    assert "there is no version 99 of requests" in found.message
    assert "2.31.0 to 3.0b1" in found.message and "latest: 2.32.3" in found.message
    assert "source distribution" not in found.message
    assert "env dev" in found.message and "envs.dev.dependencies" in found.hint
    assert not found.not_found


def test_yanked_only_says_yanked_with_the_reason():
    files = [wheel("1.0", yanked=True, yank_reason="broken build")]
    found = explain("a", files, {V("1.0"): True}, [asked("a")], CTX)
    assert "yanked" in found.message and "broken build" in found.message
    assert "no version matches" not in found.message
    assert "a==VERSION" in found.hint


def test_requires_python_only_for_versions_that_matter():
    files = [wheel("1.0", python_ok=False, requires_python=">=3.6,<3.8"),
             wheel("2.0", python_ok=False, requires_python=">=3.12"),
             wheel("2.1", python_ok=False, requires_python=">=3.12")]
    found = explain("a", files, {}, [asked("a>=2")], CTX)
    assert "a 2.0 to 2.1 need Python >=3.12" in found.message and "3.11.4" in found.message
    assert "<3.8" not in found.message
    assert "envs.dev.python" in found.hint


def test_no_wheel_for_this_platform_names_the_tags():
    files = [wheel("1.0", supported=False, tag="cp312-cp312-macosx_11_0_arm64"),
             wheel("1.0", supported=False, tag="cp312-cp312-win_amd64")]
    found = explain("a", files, {}, [asked("a")], CTX)
    assert "macosx_11_0_arm64" in found.message and "win_amd64" in found.message
    assert "cp311-cp311-manylinux_2_17_x86_64" in found.message
    assert "source distribution" not in found.message and "Python" not in found.message.split("\n")[1][:20]


def test_sdist_is_named_only_where_it_is_the_cause():
    files = [wheel("1.0"), sdist("1.0"), sdist("2.0")]
    found = explain("a", files, {V("1.0"): False}, [asked("a>=2")], CTX)
    assert "a 2.0 is published only as a source distribution" in found.message
    assert "1.0" not in found.message.split("\n")[1]


def test_prerelease_not_allowed_says_how_to_allow_it():
    context = Context(env="dev", python="3.11.4", prerelease_fallback=False)
    found = explain("a", [wheel("1.0"), wheel("2.0b1")], {V("1.0"): False, V("2.0b1"): False},
                    [asked("a>=1.5")], context)
    assert "pre-release" in found.message
    assert "prereleases = true" in found.hint and "a>=1.0rc1" in found.hint


def test_conflict_is_a_chain_per_side_one_requirement_a_line():
    demands = [asked("pydantic<2"),
               needed("pydantic>=2.7", "fastapi 0.130.0 to 0.165.0", "fastapi>=0.130 (envs.dev.dependencies)")]
    found = explain("pydantic", [wheel("1.10"), wheel("2.7"), wheel("2.9")],
                    {V("1.10"): False, V("2.7"): False, V("2.9"): False}, demands, CTX)
    lines = found.message.splitlines()
    assert any(line.strip().startswith("pydantic<2") and "you asked for it" in line for line in lines)
    assert any(line.strip().startswith("pydantic>=2.7") and "fastapi 0.130.0 to 0.165.0" in line
               and "fastapi>=0.130" in line for line in lines)
    assert "pydantic<2 (envs.dev.dependencies)" in found.hint and "fastapi>=0.130" in found.hint
    assert "source distribution" not in found.message and "not found" not in found.message


def test_conflict_length_is_bounded():
    demands = [needed(f"lib>={n}", f"p{n} 1.0", f"p{n} (envs.dev.dependencies)") for n in range(40)]
    demands.append(asked("lib<0.5"))
    files = [wheel(str(n)) for n in range(41)]
    found = explain("lib", files, {f.version: False for f in files}, demands, CTX)
    assert len(found.message.splitlines()) <= MAX_LINES + 1
    assert "more" in found.message
    assert len(found.message) < 1200 and len(found.hint) < 600


def test_not_found_offers_close_names():
    found = explain("requets", [], {}, [asked("requets")], CTX, similar=["requests"])
    assert found.not_found and "'requets' was not found" in found.message
    assert "did you mean 'requests'" in found.hint


def test_version_that_fits_but_conflicts_below_says_so():
    found = explain("b", [wheel("1.0")], {V("1.0"): False}, [asked("b")], CTX)
    assert "every version of b" in found.message and "conflicts" in found.message
