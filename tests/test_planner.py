"""The planner is a pure function: tables of (desired, actual) -> actions, no disk, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from envsync.model import (
    ActionKind,
    Actual,
    Artifact,
    Desired,
    EnvKind,
    EnvSpec,
    IndexSettings,
    Installed,
    Interpreter,
    Pin,
)
from envsync.state.planner import plan_env, plan_removals, still_to_remove

PATH = Path("/work/envs/dev")


def interpreter(version: str = "3.12.4") -> Interpreter:
    return Interpreter(executable=Path("/usr/bin/python3"), version=Version(version), implementation="cpython",
                       markers={"python_full_version": version}, tags=("py3-none-any",))


def desired(pins: dict[str, str], python: str = "3.12.4") -> Desired:
    spec = EnvSpec(name="dev", path=PATH, display_path=".envs/dev", python=python, requirements=(),
                   index=IndexSettings(index_url=None))
    made = {}
    for name, version in pins.items():
        key = canonicalize_name(name)
        artifact = Artifact(filename=f"{key}-{version}-py3-none-any.whl", url=f"http://x/{key}", sha256="0" * 64)
        made[key] = Pin(name=key, version=Version(version), artifact=artifact)
    return Desired(spec=spec, interpreter=interpreter(python), pins=made)


def venv(installed: dict[str, str], python: str = "3.12.4", *, direct: set[str] = frozenset(),
         broken: set[str] = frozenset(), interpreter_ok: bool = True) -> Actual:
    dists = {
        canonicalize_name(name): Installed(name=canonicalize_name(name), version=Version(version),
                                           dist_info=PATH / f"{name}.dist-info",
                                           direct_url="file:///src" if name in direct else None,
                                           intact=name not in broken)
        for name, version in installed.items()
    }
    return Actual(path=PATH, kind=EnvKind.VENV, python_version=Version(python),
                  interpreter_ok=interpreter_ok, installed=dists)


def summary(plan) -> list[tuple]:
    return [(a.kind.value, a.package, str(a.from_version) if a.from_version else None,
             str(a.to_version) if a.to_version else None) for a in plan.actions]


CASES = {
    "in sync": ({"a": "1.0"}, {"a": "1.0"}, []),
    "install missing": ({"a": "1.0", "b": "2.0"}, {"a": "1.0"}, [("install", "b", None, "2.0")]),
    "upgrade": ({"a": "2.0"}, {"a": "1.0"}, [("upgrade", "a", "1.0", "2.0")]),
    "downgrade": ({"a": "1.0"}, {"a": "2.0"}, [("downgrade", "a", "2.0", "1.0")]),
    "remove extraneous": ({}, {"six": "1.16.0"}, [("remove", "six", "1.16.0", None)]),
    "equal versions are equal": ({"a": "1.0"}, {"a": "1.0.0"}, []),
    "prerelease to final is an upgrade": ({"a": "1.0"}, {"a": "1.0rc1"}, [("upgrade", "a", "1.0rc1", "1.0")]),
    "names are normalised": ({"Foo_Bar": "1.0"}, {"foo-bar": "1.0"}, []),
    "kinds ordered, names sorted": (
        {"z": "1.0", "b": "2.0", "c": "1.0"}, {"c": "2.0", "b": "1.0", "old": "1"},
        [("install", "z", None, "1.0"), ("upgrade", "b", "1.0", "2.0"),
         ("downgrade", "c", "2.0", "1.0"), ("remove", "old", "1", None)],
    ),
}


@pytest.mark.parametrize("want,have,expected", list(CASES.values()), ids=list(CASES))
def test_package_table(want, have, expected):
    assert summary(plan_env(desired(want), venv(have))) == expected


def test_missing_env_is_created_with_every_package():
    plan = plan_env(desired({"b": "1", "a": "2"}), Actual(path=PATH, kind=EnvKind.MISSING))
    assert summary(plan) == [("create-env", None, None, None), ("install", "a", None, "2"), ("install", "b", None, "1")]


def test_interpreter_change_recreates_with_reason():
    plan = plan_env(desired({"a": "1"}, python="3.12.4"), venv({"a": "1"}, python="3.11.7"))
    assert [a.kind for a in plan.actions] == [ActionKind.RECREATE_ENV, ActionKind.INSTALL]
    assert plan.actions[0].reason == "Python 3.11.7 -> 3.12.4"


def test_broken_interpreter_recreates():
    plan = plan_env(desired({}), venv({}, interpreter_ok=False))
    assert [a.kind for a in plan.actions] == [ActionKind.RECREATE_ENV]
    assert "missing" in plan.actions[0].reason


def test_same_version_from_another_source_is_reinstalled():
    plan = plan_env(desired({"a": "1"}), venv({"a": "1"}, direct={"a"}))
    assert summary(plan) == [("reinstall", "a", "1", "1")]
    assert plan.actions[0].reason == "installed from another source"


def test_incomplete_install_is_reinstalled():
    plan = plan_env(desired({"a": "1"}), venv({"a": "1"}, broken={"a"}))
    assert [a.kind for a in plan.actions] == [ActionKind.REINSTALL]


def test_foreign_folder_is_an_error_never_an_action():
    plan = plan_env(desired({"a": "1"}), Actual(path=PATH, kind=EnvKind.FOREIGN))
    assert plan.actions == () and "not a virtual environment" in plan.error
    assert not plan.in_sync


CONFIG = Path("/work/envs.toml")
ROOT = Path("/work/.envs")


def found(name: str, kind: EnvKind = EnvKind.VENV, owner: str | None = str(CONFIG)) -> Actual:
    """A folder under the env root, as the survey saw it."""
    return Actual(path=ROOT / name, kind=kind, python_version=Version("3.12.4"), owner=owner)


# name: (folders under the root, declared env paths, names the planner removes)
REMOVAL_CASES = {
    "undeclared env of this config": ([found("old")], [], ["old"]),
    "declared env is kept": ([found("dev")], [ROOT / "dev"], []),
    "made by hand (no owner)": ([found("mine", owner=None)], [], []),
    "made for another config": ([found("theirs", owner="/elsewhere/envs.toml")], [], []),
    "not a venv": ([found("data", kind=EnvKind.FOREIGN)], [], []),
    "hidden folder": ([found(".cache")], [], []),
    "sorted by path": ([found("zeta"), found("alpha")], [], ["alpha", "zeta"]),
}


@pytest.mark.parametrize("folders,declared,expected", list(REMOVAL_CASES.values()), ids=list(REMOVAL_CASES))
def test_which_undeclared_envs_are_removed(folders, declared, expected):
    removals = plan_removals(CONFIG, declared, folders)
    assert [r.name for r in removals] == expected
    assert all([a.kind for a in r.actions] == [ActionKind.REMOVE_ENV] for r in removals)


def test_a_planned_removal_is_dropped_when_the_env_changed_hands():
    (removal,) = plan_removals(CONFIG, [], [found("old")])
    assert still_to_remove(removal, found("old"))
    assert not still_to_remove(removal, Actual(path=ROOT / "old", kind=EnvKind.MISSING))
    assert not still_to_remove(removal, found("old", owner="/elsewhere/envs.toml"))
    assert not still_to_remove(removal, found("old", kind=EnvKind.FOREIGN))


def apply_to(actual: Actual, plan, want: Desired) -> Actual:
    """What the env looks like after the plan's actions — the planner's own model of apply."""
    installed = {} if any(a.kind in (ActionKind.CREATE_ENV, ActionKind.RECREATE_ENV) for a in plan.actions) \
        else dict(actual.installed)
    for action in plan.actions:
        if action.kind is ActionKind.REMOVE:
            del installed[action.package]
        elif action.package:
            installed[action.package] = Installed(action.package, action.to_version, PATH / "x")
    return Actual(path=PATH, kind=EnvKind.VENV, python_version=want.interpreter.version, installed=installed)


@pytest.mark.parametrize("want,have,_", list(CASES.values()), ids=list(CASES))
def test_planning_after_applying_gives_nothing(want, have, _):
    target = desired(want)
    first = plan_env(target, venv(have))
    assert plan_env(target, apply_to(venv(have), first, target)).actions == ()
