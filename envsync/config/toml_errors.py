"""A TOML syntax error told in full: the line tomllib stopped at, with its number, and, for a
bracket, brace or string left open, the line where it was opened.

tomllib says where it gave up ("Unclosed array (at line 9, column 1)", or "at end of
document"), which for a missing `]` is often far below the mistake. The opening is found
here by scanning the text up to that point for brackets and strings, skipping comments.
Pure: text in, words out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WHERE = re.compile(r"\s*\(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$")
_OPENER_NAMES = {"[": "[", "{": "{", '"': 'string (")', "'": "string (')", '"""': 'string (""")',
                 "'''": "string (''')"}


@dataclass(frozen=True)
class Opening:
    """Something opened and not closed where tomllib stopped: a bracket, a brace or a string."""

    token: str
    line: int


@dataclass(frozen=True)
class TomlProblem:
    message: str
    hint: str


def explain(filename: str, text: str, error: str) -> TomlProblem:
    """The message and hint for tomllib's `error` in `text`."""
    match = _WHERE.search(error)
    reason = error[: match.start()] if match else error
    lines = text.splitlines()
    if match and match["line"]:
        line, column = int(match["line"]), int(match["column"])
    else:  # the end of the document: its last line that holds anything
        line = max((number for number, content in enumerate(lines, 1) if content.strip()), default=1)
        column = len(lines[line - 1]) + 1 if lines else 1
    opening = open_at(text, line, column)
    parts = [f"{filename}: invalid TOML at line {line}: {_lower_first(reason)}", _quote(lines, line)]
    hint = f"fix the syntax at line {line} of {filename}"
    if opening is not None and opening.line != line:
        name = _OPENER_NAMES[opening.token]
        parts += [f"  the {name} opened at line {opening.line} is never closed:", _quote(lines, opening.line)]
    if opening is not None:
        closer = {"[": "]", "{": "}"}.get(opening.token, opening.token)
        hint = (f"close the {_OPENER_NAMES[opening.token]} opened at line {opening.line} with {closer}"
                + (" (or add the missing comma)" if opening.token in "[{" else ""))
    return TomlProblem("\n".join(part for part in parts if part), hint)


def open_at(text: str, line: int, column: int) -> Opening | None:
    """The innermost bracket, brace or string still open at `line`:`column` (1-based), if any."""
    stop = _offset(text, line, column)
    stack: list[Opening] = []
    position, number = 0, 1
    while position < min(stop, len(text)):
        char = text[position]
        if char == "\n":
            number += 1
        elif char == "#":
            end = text.find("\n", position)
            position = len(text) if end < 0 else end
            continue
        elif char in "\"'":
            quote = text[position:position + 3] if text[position:position + 3] in ('"""', "'''") else char
            closed = _string_end(text, position + len(quote), quote)
            if closed is None or closed > stop:
                return Opening(quote, number)
            number += text.count("\n", position, closed)
            position = closed
            continue
        elif char in "[{":
            stack.append(Opening(char, number))
        elif char in "]}" and stack:
            stack.pop()
        position += 1
    return stack[-1] if stack else None


def _string_end(text: str, start: int, quote: str) -> int | None:
    """The offset just past the string's closing quote; None when it is never closed (a one-line
    string is not closed past its line)."""
    position = start
    while position < len(text):
        if quote in ('"', '"""') and text[position] == "\\":
            position += 2
            continue
        if text.startswith(quote, position):
            return position + len(quote)
        if text[position] == "\n" and len(quote) == 1:
            return None
        position += 1
    return None


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(content) + 1 for content in lines[: line - 1]) + column - 1


def _quote(lines: list[str], line: int) -> str:
    if not 1 <= line <= len(lines):
        return ""
    return f"  {line} | {lines[line - 1]}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
