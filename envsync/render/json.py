"""The JSON format: the plan (see the README's JSON schema) and the review, for programs.

Stdlib only at import: the no-op path renders the recorded plan with it.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing would cost the no-op path
if TYPE_CHECKING:
    from typing import Any

    from envsync.commands.review import Review

VERSION = 1


def render_plan(view: dict[str, Any], colour: bool = False) -> str:
    groups = [{key: group[key] for key in ("name", "envs", "in_common")} for group in view["solve_groups"]]
    pythons = {"pythons": view["pythons"]} if view.get("pythons") else {}
    return json.dumps({"version": VERSION, "config": _shown(view["config"]), **pythons, "envs": view["envs"],
                       "solve_groups": groups, "summary": view["summary"],
                       "changes_pending": view["changes_pending"]}, indent=2)


def _shown(config: str) -> str:
    """The config's path as JSON shows it: relative to the current folder."""
    try:
        return os.path.relpath(config)
    except ValueError:
        return config


def review_document(review: Review) -> dict[str, Any]:
    """The JSON form of a review (see docs/commands.md); its shape changes only with `version`."""
    from envsync.commands.review import FORMAT_VERSION, EnvSide, counts

    def side(value: EnvSide | None) -> dict[str, Any] | None:
        if value is None:
            return None
        return {"python": value.python, "interpreter": value.interpreter, "lock": value.lock,
                "packages": dict(sorted(value.packages.items()))}

    return {
        "version": FORMAT_VERSION,
        "base": review.ref,
        "base_commit": review.commit,
        "config": review.config,
        "envs": [{
            "name": env.name,
            "status": env.status,
            "python_changed": env.python_changed,
            "base": side(env.base),
            "head": side(env.head),
            "changes": [{"package": c.name, "change": c.change, "from": c.before, "to": c.after,
                         "direct": c.direct} for c in env.packages],
        } for env in review.envs],
        "summary": counts(review),
        "notes": list(review.notes),
        "changes_pending": review.has_changes,
    }


def render_review(review: Review) -> str:
    return json.dumps(review_document(review), indent=2)
