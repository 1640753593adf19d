"""Properties over many generated inputs (hypothesis), where examples would only sample.

(a) Whatever text envs.toml (and the pyproject.toml beside it) holds, `config.load`
    returns a Config or raises EnvsyncError: never any other exception, which the CLI
    would report as a bug.
(b) For any desired and actual state, carrying out the plan's actions in order (on a
    pure model of a venv) reaches exactly the desired state, every action finds the
    state it expects, and planning again yields nothing to do.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from helpers import write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import NormalizedName
from packaging.version import Version

from envsync.config.load import load
from envsync.errors import ConfigError, EnvsyncError
from envsync.model import (
    Action,
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
from envsync.state.planner import plan_env

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- (a) any document loads or fails as an EnvsyncError ----------------------------------------

KNOWN_KEYS = [
    "settings", "envs", "root", "python", "index-url", "extra-index-urls", "find-links", "prereleases",
    "inherits", "path", "dependencies", "groups", "project", "requirements", "constraints", "solve-group",
    "editable", "extras", "include-group", "dependency-groups",
]
ODD_KEYS = ["dev", "base", "Dev", "DEV", "py3.12", "my env", "", "-x", "tmp", "envsync", "a" * 65, "é", "0"]
ODD_STRINGS = [
    "requests>=2", "rich", "bad>>1", "x; python_version >= '3.9'", "x[", "3.11", ">=3.11,<3.13", "3.99",
    "~nobody-here/x", "~", "/", ".", "..", "../..", "my envs/dev", "http://u:p@h/simple", "file:///nowhere",
    "", " ", "\x00", "\n", "base", "dev", "test", "${HOME}",
]
keys = st.one_of(st.sampled_from(KNOWN_KEYS + ODD_KEYS), st.text(max_size=12))
scalars = st.one_of(
    st.sampled_from(ODD_STRINGS), st.text(max_size=20), st.integers(-(2**63), 2**63 - 1), st.booleans(),
    st.floats(allow_nan=False),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
env_tables = st.dictionaries(st.sampled_from(ODD_KEYS) | st.text(max_size=8),
                             st.dictionaries(st.sampled_from(KNOWN_KEYS) | keys, values, max_size=5), max_size=4)
shaped = st.fixed_dictionaries({}, optional={
    "settings": st.dictionaries(st.sampled_from(KNOWN_KEYS) | keys, values, max_size=5),
    "envs": env_tables | values,
})


def mostly(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Values of the right type three times in four, anything otherwise."""
    return st.one_of(right, right, right, values)


# Mostly valid documents: known keys with values of about the right type, so that
# generation gets past pydantic and into the code after it (inherits, paths, groups).
ENV_NAMES = ["dev", "base", "test", "Dev", "py3.12", "tmp", "x" * 64]
strings = st.sampled_from(ODD_STRINGS) | st.text(max_size=10)
paths = st.sampled_from(["~nobody-here/x", "~", "~/envs", "my envs/dev", "..", "/", "a\x00b", ".envs/x", "a/../b"])
requirements = st.lists(st.sampled_from(["rich", "requests>=2", "x; python_version >= '3.9'", "bad>>1", "Rich"]),
                        max_size=3)
env_fields = {
    "python": strings, "path": paths | strings, "dependencies": requirements,
    "inherits": st.lists(st.sampled_from(ENV_NAMES), max_size=2),
    "groups": st.lists(st.sampled_from(["test", "base", "dev"]), max_size=2),
}
settings_fields = {
    "root": paths | strings, "python": strings, "index-url": strings, "extra-index-urls": st.lists(strings, max_size=2),
    "find-links": st.lists(strings, max_size=2), "prereleases": st.booleans(),
}
plausible = st.fixed_dictionaries(
    {"envs": st.dictionaries(st.sampled_from(ENV_NAMES), st.fixed_dictionaries(
        {}, optional={key: mostly(value) for key, value in env_fields.items()}), max_size=3)},
    optional={"settings": st.fixed_dictionaries({}, optional={k: mostly(v) for k, v in settings_fields.items()})},
)
documents = st.one_of(
    plausible.map(tomli_w.dumps),
    plausible.map(tomli_w.dumps),
    shaped.map(tomli_w.dumps),
    st.dictionaries(keys, values, max_size=5).map(tomli_w.dumps),
    st.text(max_size=200),
    st.binary(max_size=100).map(lambda raw: raw.decode("latin-1")),
)
GROUP_NAMES = ["test", "base", "dev", "Test", "de_v"]
group_entries = st.one_of(st.sampled_from(["rich", "bad>>1", "x; python_version >= '3.9'"]),
                          st.fixed_dictionaries({"include-group": st.sampled_from(GROUP_NAMES)}), values)
pyprojects = st.none() | st.fixed_dictionaries({"dependency-groups": st.dictionaries(
    st.sampled_from(GROUP_NAMES) | st.text(max_size=5), mostly(st.lists(group_entries, max_size=3)), max_size=3,
)}).map(tomli_w.dumps)


@SETTINGS
@given(text=documents, pyproject=pyprojects)
def test_any_document_loads_or_is_a_config_error(text: str, pyproject: str | None):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "envs.toml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        if pyproject is not None:
            (Path(folder) / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        with contextlib.suppress(EnvsyncError):  # anything else fails the test
            load(path)



@SETTINGS
@given(groups=st.lists(st.sampled_from(GROUP_NAMES), min_size=1, max_size=2), pyproject=pyprojects)
def test_any_dependency_groups_load_or_are_a_config_error(groups: list[str], pyproject: str | None):
    """A valid envs.toml asking for groups, beside any pyproject.toml: the groups code is always reached."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "envs.toml"
        path.write_text(tomli_w.dumps({"envs": {"dev": {"groups": groups}}}), encoding="utf-8")
        if pyproject is not None:
            (Path(folder) / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        with contextlib.suppress(EnvsyncError):  # anything else fails the test
            load(path)

@pytest.mark.parametrize("key,value,shown", [
    ("envs.dev.path", "~nobody-here/dev", "~nobody-here"),  # pathlib raised RuntimeError
    ("envs.dev.path", "a\\u0000b", "NUL"),  # loaded, then a ValueError from os.stat when planning
    ("settings.root", "~nobody-here", "~nobody-here"),
    ("settings.find-links[0]", "~nobody-here/wheels", "~nobody-here"),
])
def test_paths_no_file_system_can_hold_are_config_errors(tmp_path: Path, key: str, value: str, shown: str):
    """Found by the property above."""
    section, _, rest = key.rpartition(".")
    name, _, position = rest.partition("[")
    toml_value = f'["{value}"]' if position else f'"{value}"'
    path = write_config(tmp_path, f"[{section}]\n{name} = {toml_value}\n" + ("[envs.dev]\n" if section != "envs.dev" else ""))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert f"envs.toml: {key}" in str(caught.value) and shown in str(caught.value)


# -- (b) applying a plan reaches the desired state -------------------------------------------

NAMES = [NormalizedName(n) for n in ("alpha", "beta", "gamma", "delta")]
VERSIONS = [Version(v) for v in ("1.0", "1.1", "2.0", "2.0rc1")]
PYTHONS = [Version(v) for v in ("3.11.9", "3.12.4", "3.13.0")]
SPEC = EnvSpec(name="dev", path=Path("/envs/dev"), display_path=".envs/dev", python=None, requirements=(),
               index=IndexSettings(index_url=None))


def interpreter(version: Version) -> Interpreter:
    return Interpreter(executable=Path("/usr/bin/python3"), version=version, implementation="cpython",
                       markers={}, tags=("py3-none-any",))


def pin(name: NormalizedName, version: Version) -> Pin:
    filename = f"{name}-{version}-py3-none-any.whl"
    return Pin(name=name, version=version, artifact=Artifact(filename, f"https://i.test/{filename}", "0" * 64))


def installed_dist(name: NormalizedName, version: Version, direct_url: bool, intact: bool) -> Installed:
    return Installed(name=name, version=version, dist_info=Path(f"/site/{name}-{version}.dist-info"),
                     direct_url="file:///src" if direct_url else None, intact=intact)


desired_states = st.builds(
    lambda python, pins: Desired(SPEC, interpreter(python), {n: pin(n, v) for n, v in sorted(pins.items())}),
    st.sampled_from(PYTHONS),
    st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VERSIONS), max_size=len(NAMES)),
)
installed_sets = st.dictionaries(
    st.sampled_from(NAMES),
    st.tuples(st.sampled_from(VERSIONS), st.booleans(), st.booleans()),
    max_size=len(NAMES),
).map(lambda found: {n: installed_dist(n, v, direct, intact) for n, (v, direct, intact) in found.items()})
actual_states = st.one_of(
    st.just(Actual(SPEC.path, EnvKind.MISSING)),
    st.builds(lambda python, ok, found: Actual(SPEC.path, EnvKind.VENV, python_version=python, interpreter_ok=ok,
                                              installed=found),
              st.none() | st.sampled_from(PYTHONS), st.booleans(), installed_sets),
)


@dataclass
class VenvModel:
    """What apply would leave at the env's path: kind, interpreter and installed packages."""

    kind: EnvKind
    python: Version | None = None
    interpreter_ok: bool = True
    # name -> (version, installed from another source, intact)
    packages: dict[NormalizedName, tuple[Version, bool, bool]] = field(default_factory=dict)

    @classmethod
    def of(cls, actual: Actual) -> VenvModel:
        found = {n: (d.version, d.direct_url is not None, d.intact) for n, d in actual.installed.items()}
        return cls(actual.kind, actual.python_version, actual.interpreter_ok, found)

    def to_actual(self) -> Actual:
        found = {n: installed_dist(n, v, direct, intact) for n, (v, direct, intact) in self.packages.items()}
        return Actual(SPEC.path, self.kind, self.python, interpreter_ok=self.interpreter_ok, installed=found)

    def apply(self, action: Action, desired: Desired) -> None:
        """One action, refusing any the state doesn't allow: the plan must be consistent, not just final."""
        handler = getattr(self, f"_{action.kind.name.lower()}")
        handler(action, desired)

    def _create_env(self, action: Action, desired: Desired) -> None:
        assert self.kind is EnvKind.MISSING, "create-env over an existing path"
        self._fresh(desired)

    def _recreate_env(self, action: Action, desired: Desired) -> None:
        assert self.kind is EnvKind.VENV, "recreate-env of something that is not a venv"
        self._fresh(desired)

    def _fresh(self, desired: Desired) -> None:
        self.kind, self.python, self.interpreter_ok, self.packages = EnvKind.VENV, desired.interpreter.version, True, {}

    def _install(self, action: Action, desired: Desired) -> None:
        assert self.kind is EnvKind.VENV and action.package not in self.packages
        self.packages[action.package] = (action.to_version, False, True)

    def _change(self, action: Action, above: bool | None) -> None:
        assert self.kind is EnvKind.VENV and action.package in self.packages
        have = self.packages[action.package][0]
        assert have == action.from_version, f"{action.kind.value} from {action.from_version}, but {have} is there"
        if above is not None:
            assert (action.to_version > have) is above
        self.packages[action.package] = (action.to_version, False, True)

    def _upgrade(self, action: Action, desired: Desired) -> None:
        self._change(action, above=True)

    def _downgrade(self, action: Action, desired: Desired) -> None:
        self._change(action, above=False)

    def _reinstall(self, action: Action, desired: Desired) -> None:
        assert action.from_version == action.to_version
        self._change(action, above=None)

    def _remove(self, action: Action, desired: Desired) -> None:
        assert self.kind is EnvKind.VENV and self.packages[action.package][0] == action.from_version
        del self.packages[action.package]

    def _remove_env(self, action: Action, desired: Desired) -> None:
        raise AssertionError("a declared env is never removed")


def wanted(desired: Desired) -> dict[NormalizedName, tuple[Version, bool, bool]]:
    return {name: (p.version, False, True) for name, p in desired.pins.items()}


@SETTINGS
@given(desired=desired_states, actual=actual_states)
def test_applying_the_plan_reaches_the_desired_state(desired: Desired, actual: Actual):
    plan = plan_env(desired, actual)
    assert plan.error is None
    model = VenvModel.of(actual)
    for action in plan.actions:
        model.apply(action, desired)
    assert (model.kind, model.python, model.interpreter_ok) == (EnvKind.VENV, desired.interpreter.version, True)
    assert model.packages == wanted(desired)
    assert plan_env(desired, model.to_actual()).actions == ()


@SETTINGS
@given(desired=desired_states, actual=actual_states)
def test_a_plan_changes_only_what_differs(desired: Desired, actual: Actual):
    """No action for a package already right, and at most one action per package."""
    plan = plan_env(desired, actual)
    touched = [a.package for a in plan.actions if a.package is not None]
    assert len(touched) == len(set(touched))
    env_actions = [a for a in plan.actions if a.package is None]
    if actual.kind is EnvKind.VENV and not env_actions:
        for name, have in actual.installed.items():
            right = name in desired.pins and have.version == desired.pins[name].version \
                and have.intact and have.direct_url is None
            assert (name in touched) is not right


@SETTINGS
@given(desired=desired_states, found=installed_sets)
def test_a_foreign_folder_is_never_planned_for(desired: Desired, found: dict[NormalizedName, Any]):
    plan = plan_env(desired, Actual(SPEC.path, EnvKind.FOREIGN, installed=found))
    assert plan.actions == () and plan.error and "never touches" in plan.error
