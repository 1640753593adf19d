"""The markdown format: a review (`plan --base`) as a pull-request comment."""

from __future__ import annotations

from envsync.render.text import lock_words, python_shown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from envsync.commands.review import Review

LONG_LIST = 10  # tables with more rows than this are collapsed under <details>


def _cell(text: str | None) -> str:
    return "" if text is None else f"`{text}`"


def render_review(review: Review) -> str:
    """A one-line summary, then a table for each env that changed."""
    from envsync.commands.review import FRESH, UNCHANGED, summary_line

    if not review.has_changes:
        return "**envsync**: no environment changes."
    lines = [f"**envsync** against `{review.ref}` (`{review.commit[:7]}`): {summary_line(review)}", ""]
    for env in review.envs:
        stale = env.head is not None and env.head.lock != FRESH
        if env.status == UNCHANGED and not stale:
            continue
        title = f"#### `{env.name}`: {env.status}"
        if env.base is None and env.head is not None:
            title += f", Python {_cell(python_shown(env.head.python))}"
        elif env.base is not None and env.head is not None and env.python_changed:
            title += f", Python {_cell(python_shown(env.base.python))} → {_cell(python_shown(env.head.python))}"
        lines += [title, ""]
        if stale:
            lines += [f"> [!WARNING]\n> `pylock.{env.name}.toml` is {lock_words(env.head)}: "
                      f"run `envsync lock {env.name}` and commit it.", ""]
        if env.packages:
            table = ["| change | package | before | after |", "|---|---|---|---|"]
            table += [f"| {c.change} | `{c.name}`{'' if c.direct else ' (dependency)'} | {_cell(c.before)} | "
                      f"{_cell(c.after)} |" for c in env.packages]
            if len(env.packages) > LONG_LIST:
                count = len(env.packages)
                table = [f"<details><summary>{count} package change{'s' if count != 1 else ''}</summary>", "",
                         *table, "", "</details>"]
            lines += [*table, ""]
    if review.notes:
        lines += ["<sub>", "", *(f"- {note}" for note in review.notes), "", "</sub>", ""]
    return "\n".join(lines).rstrip() + "\n"
