"""The plan as data: what every output format renders, and what the no-op record keeps.

`plan_view` turns a Plan into plain JSON-ready values (each env's entry as `plan --json`
gives it, solve groups, lock files to remove, the summary), so a format is written once
for the full path and the no-op path alike. Also apply's events as lines of text.
"""

from __future__ import annotations

from envsync.config.paths import lock_path
from envsync.events import ActionDone, Event, FetchProgress, Progress, StartupHookAdded, WaitingForLock, WheelsFetched
from envsync.model import Action, ActionKind, EnvPlan, EnvRemoval, EnvSpec, GroupPlan, Plan, SkippedEnv
from envsync.render.lines import SYMBOLS, describe, header, versions
from envsync.resolve.urls import redact

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from typing import Any


def describe_action(action: Action) -> str:
    """One action as a line of text, without the symbol: 'upgrade  urllib3 1.26 -> 2.2'."""
    return describe(action_json(action))


def short_action(action: Action) -> str:
    """An action in a few characters, for watch's one line per env: '+lib 1.0', '~lib 1.0 -> 2.0', 'created'."""
    kind = action.kind
    if kind is ActionKind.CREATE_ENV:
        return "created"
    if kind is ActionKind.REMOVE_ENV:
        return "removed"
    if kind is ActionKind.RECREATE_ENV:
        return f"recreated ({action.reason})"
    return f"{SYMBOLS[kind.value][0]}{action.package} {versions(action_json(action))}"


def event_text(event: Event) -> str:
    """What apply reported, as one line: `dev: + install  lib 2.0`, `14 wheels: 12 cached, 2 downloaded (3.1 MB)`."""
    if isinstance(event, ActionDone):
        return f"{event.env}: {SYMBOLS[event.action.kind.value][0]} {describe_action(event.action)}"
    if isinstance(event, StartupHookAdded):
        return f"{event.env}: ! {event.package} {event.version} added startup hook {event.hook}"
    if isinstance(event, WaitingForLock):
        return f"waiting for {event.holder} to finish with {event.path}"
    if isinstance(event, FetchProgress):
        done = event.cached + event.downloaded + event.built
        return f"fetched {done}/{event.total} wheels: {_sources(event.cached, event.downloaded, event.size, event.built)}"
    if isinstance(event, WheelsFetched):
        total = event.cached + event.downloaded + event.built
        sources = _sources(event.cached, event.downloaded, event.size, event.built)
        return f"{total} wheel{'s' if total != 1 else ''}: {sources}"
    if isinstance(event, Progress):
        return event.text
    raise TypeError(f"not an event: {event!r}")


def _sources(cached: int, downloaded: int, size: int, built: int = 0) -> str:
    """`12 cached, 2 downloaded (3.1 MB)`; a wheel built from source is said to be built, and
    only what happened is named when something was built (`1 built`, not `0 downloaded (0.0 MB)`)."""
    parts = [f"{cached} cached", f"{downloaded} downloaded" + (f" ({size / 1e6:.1f} MB)" if downloaded else "")]
    if built:
        parts = [part for part, count in zip(parts, (cached, downloaded), strict=True) if count] + [f"{built} built"]
    return ", ".join(parts)


def env_header(env: EnvPlan | EnvRemoval) -> str:
    return header({"name": env.name, "path": env.display_path, "python": env.python})


def solve_group_of(env: EnvPlan | EnvRemoval) -> str | None:
    return env.desired.spec.solve_group if isinstance(env, EnvPlan) else None


def matrix_of(env: EnvPlan | EnvRemoval) -> dict[str, Any] | None:
    """Where a matrix expansion comes from, {"of": "compat", "python": "3.12", "factors": {"django": "4.2"}}
    (`python` when the matrix has that key, `factors` when it has others); None for a plain env."""
    if not isinstance(env, EnvPlan):
        return None
    return matrix_origin(env.desired.spec)


def matrix_origin(spec: EnvSpec) -> dict[str, Any] | None:
    if spec.matrix_of is None:
        return None
    values = dict(spec.matrix_values)
    factors = {key: value for key, value in spec.matrix_values if key != "python"}
    return {"of": spec.matrix_of, **({"python": values["python"]} if "python" in values else {}),
            **({"factors": factors} if factors else {})}


def group_document(group: GroupPlan) -> dict[str, Any]:
    return {"name": group.name, "envs": list(group.envs), "in_common": dict(group.in_common)}


def action_json(action: Action) -> dict[str, str]:
    out: dict[str, str] = {"action": action.kind.value}
    if action.package:
        out["package"] = action.package
    kind = action.kind
    if kind in (ActionKind.UPGRADE, ActionKind.DOWNGRADE):
        out["from"], out["to"] = str(action.from_version), str(action.to_version)
    elif kind is ActionKind.REMOVE:
        out["version"] = str(action.from_version)
    elif kind in (ActionKind.INSTALL, ActionKind.REINSTALL):
        out["version"] = str(action.to_version)
    if action.reason and kind in (ActionKind.REINSTALL, ActionKind.RECREATE_ENV, ActionKind.REMOVE_ENV):
        out["reason"] = action.reason
    return out


def plan_view(plan: Plan) -> dict[str, Any]:
    """The plan as plain data: `envs` (each as `plan --json` gives it, skipped expansions in their
    place), `solve_groups` (with the lock files each writes together), `lock_removals`, `summary`,
    `pythons` (to install first), `changes_pending` and `config` (absolute). JSON-ready, so the no-op record can keep it."""
    selected: list[EnvPlan | SkippedEnv] = [*plan.envs, *plan.skipped]
    order = {name: position for position, name in enumerate(plan.order)}
    selected.sort(key=lambda env: order.get(env.name, len(order)))
    envs = [skipped_document(env) if isinstance(env, SkippedEnv) else env_document(env) for env in selected]
    groups = []
    for group in plan.solve_groups:
        theirs = {lock_path(plan.config_path, name) for name in group.envs}
        locks = sorted(lock.path.name for lock in plan.lock_writes if lock.path in theirs)
        groups.append({**group_document(group), "locks": locks})
    return {
        "config": str(plan.config_path),
        "envs": [*envs, *(env_document(env) for env in plan.removals)],
        "solve_groups": groups,
        "lock_removals": [path.name for path in plan.lock_removals],
        # Pythons installed before the envs (python-build-standalone builds); the JSON shows them only
        # when there are any, so the schema of every plan without them is as it was.
        "pythons": [{"action": "install-python", "version": str(install.version), "source": install.source,
                     "url": redact(install.url), "size": install.size} for install in plan.python_installs],
        "summary": plan.summary(),
        "changes_pending": plan.has_changes,
    }


def env_status(env: EnvPlan | EnvRemoval) -> str:
    """One word a program can switch on: in-sync, lock-stale, changes-pending, remove or error
    (or skipped, for an expansion whose Python is not found)."""
    if env.error:
        return "error"
    if isinstance(env, EnvRemoval):
        return "remove"
    if env.actions:
        return "changes-pending"
    return "lock-stale" if env.lock_write is not None else "in-sync"


def env_indexes(env: EnvPlan | EnvRemoval) -> list[tuple[str, str | None]]:
    """(URL without credentials, the requirements file line that named it or None) of each index
    the env searches, in order; empty unless a requirements file named an index, as only then
    can the indexes differ from what envs.toml says."""
    if not isinstance(env, EnvPlan) or not env.desired.spec.index.from_files:
        return []
    index = env.desired.spec.index
    named = dict(index.from_files)
    return [(redact(url), named.get(url)) for url in index.search_order()]


def env_document(env: EnvPlan | EnvRemoval) -> dict[str, Any]:
    """One env's entry in the JSON plan; a lock to write is listed as a `write-lock` action."""
    actions = [action_json(action) for action in env.actions]
    if env.lock_write is not None:
        actions.append({"action": "write-lock", "path": env.lock_write.path.name})
    return {
        "name": env.name, "path": env.display_path, "python": env.python, "solve_group": solve_group_of(env),
        # The platforms its lock serves (PEP 508 markers, as declared); empty: this machine's only.
        "environments": list(env.desired.spec.environments) if isinstance(env, EnvPlan) else [],
        "matrix": matrix_of(env), "status": env_status(env),
        "actions": actions,
        **({"error": env.error} if env.error else {}),
        **({"startup_hooks": [{"file": hook, "package": package} for hook, package in env.startup_hooks]}
           if env.startup_hooks else {}),
        **({"indexes": [{"url": url, "from": where} for url, where in env_indexes(env)]}
           if env_indexes(env) else {}),
        **({"download": {"files": env.to_fetch[0], "bytes": env.to_fetch[1]}}
           if isinstance(env, EnvPlan) and env.to_fetch[0] else {}),
        # The env's own local projects' .pth hooks: expected, so text names them only under -v.
        **({"project_hooks": [{"file": hook, "package": package} for hook, package in env.project_hooks]}
           if isinstance(env, EnvPlan) and env.project_hooks else {}),
    }


def skipped_document(env: SkippedEnv) -> dict[str, Any]:
    """A skipped expansion's entry: no Python, no actions, and why (`"skipped": "Python 3.9 not found"`)."""
    spec = env.spec
    return {"name": spec.name, "path": spec.display_path, "python": None, "solve_group": None,
            "environments": list(spec.environments), "matrix": matrix_origin(spec), "status": "skipped",
            "actions": [], "skipped": env.reason}
