"""Turn a loaded config into a Plan: find interpreters, resolve pins, survey envs, diff.

This is the only place that strings the stages together for `plan`, `apply` and
`list`; each stage it calls stays testable alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import ConfigError
from .model import Config, Desired, EnvKind, EnvPlan, EnvSpec, IndexSettings, Interpreter, Plan
from .planner import plan_env, plan_env_removal
from .survey import read_pyvenv_cfg, survey

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Session:
    """Shared, lazily built helpers for one command: index clients and interpreters."""

    config: Config
    progress: Progress = _quiet
    _indexes: dict[IndexSettings, object] = field(default_factory=dict)
    _interpreters: dict[str | None, Interpreter] = field(default_factory=dict)

    def index(self, settings: IndexSettings):
        from .index import IndexClient

        if settings not in self._indexes:
            self._indexes[settings] = IndexClient(settings)
        return self._indexes[settings]

    def interpreter(self, request: str | None) -> Interpreter:
        from .interpreters import find_interpreter

        if request not in self._interpreters:
            self._interpreters[request] = find_interpreter(request, self.config.directory)
        return self._interpreters[request]

    def close(self) -> None:
        for client in self._indexes.values():
            client.close()


def select_envs(config: Config, names: Sequence[str]) -> list[EnvSpec]:
    """The envs named on the command line (all when none), in config order."""
    if not names:
        return list(config.envs)
    known = [env.name for env in config.envs]
    for name in names:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"declared envs: {', '.join(known) or 'none'}"
            raise ConfigError(f"{config.path.name}: no env named {name!r}", hint)
    return [env for env in config.envs if env.name in names]


def desired_state(session: Session, spec: EnvSpec) -> Desired:
    """Resolve `spec` for its own interpreter."""
    from .resolver import resolve

    interpreter = session.interpreter(spec.python)
    session.progress(f"resolving {spec.name} for Python {interpreter.version}")
    pins = resolve(spec.requirements, interpreter, session.index(spec.index), prereleases=spec.index.prereleases)
    return Desired(spec=spec, interpreter=interpreter, pins=pins)


def make_plan(session: Session, names: Sequence[str] = ()) -> Plan:
    """The plan for the selected envs, plus removal of envsync envs no longer declared."""
    config = session.config
    plans: list[EnvPlan] = []
    for spec in select_envs(config, names):
        desired = desired_state(session, spec)
        plans.append(plan_env(desired, survey(spec.path)))
    if not names:
        plans += undeclared_envs(config)
    return Plan(config_path=config.path, envs=tuple(plans))


def undeclared_envs(config: Config) -> list[EnvPlan]:
    """Venvs under the env root that envsync created and the config no longer declares."""
    declared = {env.path for env in config.envs}
    try:
        children = sorted(config.root.iterdir())
    except OSError:
        return []
    plans = []
    for child in children:
        if child in declared or child.name.startswith(".") or not child.is_dir():
            continue
        if "envsync" not in read_pyvenv_cfg(child):
            continue
        actual = survey(child)
        if actual.kind is EnvKind.VENV:
            shown = os.path.relpath(child, config.directory)
            plans.append(plan_env_removal(child.name, actual, shown))
    return plans

