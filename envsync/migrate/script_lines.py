"""One command line of another tool as an envsync script line, or the reason it can't be one.

envsync runs a script line split like a POSIX shell, without a shell, with `{args}` and
`${VAR}` as its only placeholders (SPEC §1). A line that needs a shell (pipes, `&&`,
redirections, globs, `$(...)`) or a placeholder envsync has no value for stays a comment.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ARGS = re.compile(r"^args(:.*)?$", re.DOTALL)
_BARE_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_SHELL_CHARS = set("|&;<>()`*?")

# A placeholder's replacement, or None when envsync has no equivalent.
Replace = Callable[[str], str | None]


def translate(line: str, replace: Replace) -> tuple[str | None, str | None]:
    """(the envsync line, None) or (None, why not). `replace` maps a `{placeholder}`'s inside."""
    text, reason = substitute(line.strip(), replace)
    if text is None:
        return None, reason
    reason = needs_shell(text)
    if reason:
        return None, reason
    try:
        words = shlex.split(text.removeprefix("- "))
    except ValueError:
        return None, "unbalanced quotes"
    if any("{args" in word and not _ARGS.match(word.strip("{}")) for word in words):
        return None, "{args} inside a word (envsync replaces it only as a whole word)"
    return _BARE_VARIABLE.sub(r"${\1}", text), None


def substitute(text: str, replace: Replace) -> tuple[str | None, str | None]:
    """`text` with each `{placeholder}` but `{args...}` replaced, or (None, the first with no value)."""
    unknown: list[str] = []

    def one(match: re.Match[str]) -> str:
        inside = match.group(1)
        if _ARGS.match(inside):
            return match.group(0)
        value = replace(inside)
        if value is None:
            unknown.append(match.group(0))
            return match.group(0)
        return value

    result = _PLACEHOLDER.sub(one, text)
    return (None, f"no envsync value for {unknown[0]}") if unknown else (result, None)


def short_reason(reason: str) -> str:
    """The few words of a reason the summary groups by: "shell syntax", "placeholder", ..."""
    return "placeholder" if reason.startswith("no envsync value") else reason.split(" (")[0]


def long_reason(reason: str) -> str:
    """The reason as the comment in envs.toml says it, with what envsync does instead."""
    return f"{reason}: envsync runs scripts without a shell" if reason == "shell syntax" else reason


def needs_shell(text: str) -> str | None:
    """'shell syntax' when an unquoted character would mean something to a shell, else None."""
    quote: str | None = None
    escaped = False
    for position, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in _SHELL_CHARS or text.startswith("$(", position):
            return "shell syntax"
    return None


def mapping_replace(values: Mapping[str, str | None], env_prefix: str = "env:") -> Replace:
    """A `Replace` from fixed values plus `{env:VAR}` -> `${VAR}` (a default after a second ':' is not kept)."""
    def replace(inside: str) -> str | None:
        if inside.startswith(env_prefix):
            variable = inside[len(env_prefix):]
            return f"${{{variable}}}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable) else None
        return values.get(inside)
    return replace


def command_line(words: list[str]) -> str:
    """A list of arguments (tox.toml's form) as one line that splits back into the same words."""
    return " ".join(word if re.fullmatch(r"[A-Za-z0-9_./:=,+@%{}$-]+|\{[^{}]*\}", word) else shlex.quote(word)
                    for word in words)
