"""The docs stay true: every command, option and config key the code accepts is documented in
docs/, every relative link in README.md and docs/ resolves, and the README's walkthrough runs.

The lists come from the code (the argparse parser, the pydantic schema), never from a hand
list, so a new option fails here until it is documented.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO_ROOT
from localindex import LocalIndex
from wheelfactory import WheelSpec

DOCS = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"


def docs_text() -> str:
    return "\n".join(page.read_text() for page in sorted(DOCS.glob("*.md")))


# -- commands and options -------------------------------------------------------------------


def commands(parser: argparse.ArgumentParser, prefix: str = "envsync") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command line the parser accepts (`envsync plan`, `envsync cache prune`), with its parser."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{prefix} {name}")


def long_options(parser: argparse.ArgumentParser) -> list[str]:
    """Each option's longest spelling (`--config` for `-c/--config`), but --help."""
    found = []
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            found.append(max(action.option_strings, key=len))
    return found


def mentioned(token: str, text: str) -> bool:
    """`token` appears in `text` as a whole word (`--locked` is not found in `--locked-x`)."""
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


def undocumented_cli(text: str) -> list[str]:
    from envsync.cli import build_parser

    missing = []
    for line, parser in commands(build_parser()):
        if line != "envsync" and not mentioned(line, text):
            missing.append(f"command `{line}`: add a row for it in docs/commands.md's table")
        for option in long_options(parser):
            if not mentioned(option, text):
                missing.append(f"option {option} of `{line}`: document it in docs/commands.md")
    return sorted(set(missing))


def test_every_command_and_option_is_documented():
    missing = undocumented_cli(docs_text())
    assert not missing, "undocumented in docs/:\n  " + "\n  ".join(missing)


# -- config keys ------------------------------------------------------------------------------


def config_keys(model: type, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, key as written in envs.toml) for every key the schema accepts, nested models included."""
    from pydantic import BaseModel

    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        yield path, key
        for inner in _models_in(field.annotation):
            if issubclass(inner, BaseModel):
                # A table of tables (`[envs.NAME]`) nests one level under a name the user picks.
                named = _is_mapping(field.annotation)
                yield from config_keys(inner, f"{path}.NAME" if named else path)


def _models_in(annotation: object) -> list[type]:
    from pydantic import BaseModel

    found: list[type] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    for arg in getattr(annotation, "__args__", ()):
        found += _models_in(arg)
    return found


def _is_mapping(annotation: object) -> bool:
    origin = getattr(annotation, "__origin__", None)
    if origin is dict:
        return True
    return any(_is_mapping(arg) for arg in getattr(annotation, "__args__", ()))


def key_documented(key: str, text: str) -> bool:
    """A key is documented when it is written as code: `` `key` ``, `key = ...` in an example, or a
    table header naming it (`[settings]`, `[envs.NAME]`)."""
    pattern = rf"`{re.escape(key)}[`\s=]|^\s*#?\s*{re.escape(key)}\s*=|\[(?:[\w.-]+\.)?{re.escape(key)}[\].]"
    return re.search(pattern, text, re.MULTILINE) is not None


def undocumented_keys(text: str) -> list[str]:
    from envsync.config.schema import FileModel

    return sorted({f"config key {path}: document `{key}` in docs/configuration.md"
                   for path, key in config_keys(FileModel) if not key_documented(key, text)})


def test_every_config_key_is_documented():
    missing = undocumented_keys(docs_text())
    assert not missing, "undocumented in docs/:\n  " + "\n  ".join(missing)


def test_the_checks_find_what_is_missing():
    """The two checks above can fail: an empty text documents nothing, and a key or an option
    named only inside a longer word is not taken as documented."""
    assert "option --locked of `envsync plan`: document it in docs/commands.md" in undocumented_cli("")
    assert "command `envsync plan`: add a row for it in docs/commands.md's table" in undocumented_cli("")
    assert not mentioned("--locked", "use --locked-ish")
    assert "config key envs.NAME.solve-group: document `solve-group` in docs/configuration.md" in undocumented_keys(
        "`envs` `settings`")
    assert key_documented("solve-group", 'solve-group = "x"') and not key_documented("seed", "seeds")


# -- links ------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """A heading's anchor as a code host makes it: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def broken_links(page: Path) -> list[str]:
    broken = []
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)  # code is not links
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # an address: not ours to check offline
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{page.relative_to(REPO_ROOT)}: {target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{page.relative_to(REPO_ROOT)}: {target} (no heading #{anchor} there)")
    return broken


def test_every_relative_link_resolves():
    pages = [README, *sorted(DOCS.glob("*.md"))]
    broken = [line for page in pages for line in broken_links(page)]
    assert not broken, "broken links:\n  " + "\n  ".join(broken)


def test_a_broken_link_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    page = REPO_ROOT / "docs" / "commands.md"
    text = "[a](configuration.md) [b](nowhere.md) [c](configuration.md#no-such-heading) [d](https://x.invalid/y)"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: text if self == page else "# Heading\n")
    assert broken_links(page) == ["docs/commands.md: nowhere.md (no such file)",
                                  "docs/commands.md: configuration.md#no-such-heading (no heading #no-such-heading there)"]


# -- the README's walkthrough -----------------------------------------------------------------


def walkthrough_blocks() -> list[tuple[str, list[str]]]:
    """The walkthrough's fenced blocks as (kind, command lines): kind is `run`, `output`, `toml`
    (lines the reader adds to envs.toml: the test appends them), or `skip: reason` for a block
    after an `<!-- not run: reason -->` comment."""
    text = README.read_text()
    section = text.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    blocks = []
    for match in re.finditer(r"(<!-- not run: (?P<why>[^>]*) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", section,
                             re.DOTALL):
        lines = [line[2:] for line in match["body"].splitlines() if line.startswith("$ ")]
        if match["lang"] == "toml" and not match["why"]:
            blocks.append(("toml", match["body"].splitlines()))
        elif match["why"]:
            blocks.append((f"skip: {match['why']}", lines))
        elif match["lang"] == "console":
            blocks.append(("run", lines))
        elif match["lang"] == "text":
            blocks.append(("output", lines))
        else:
            pytest.fail(f"README.md walkthrough: a ```{match['lang']} block; mark commands ```console and "
                        "output ```text, or put <!-- not run: why --> before it")
    return blocks


def test_the_walkthrough_has_commands():
    runs = [line for kind, lines in walkthrough_blocks() if kind == "run" for line in lines]
    assert runs and runs[0].startswith("envsync init")
    assert all(reason for kind, _ in walkthrough_blocks() if kind.startswith("skip") for reason in kind.split(": ")[1:])


def _project(folder: Path) -> Path:
    (folder / "src" / "myapp").mkdir(parents=True)
    (folder / "src" / "myapp" / "__init__.py").write_text("")
    (folder / "src" / "myapp" / "__main__.py").write_text("print('hello from myapp')\n")
    (folder / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "myapp"
        version = "0.1.0"
        dependencies = ["lib>=1.0"]

        [dependency-groups]
        test = ["tool"]
        """))
    (folder / ".gitignore").write_text(".envs/\n*.egg-info/\n")
    return folder


def test_the_walkthrough_runs(tmp_path: Path, build_index: LocalIndex):
    """Every command of the README's walkthrough, in order, on a small project, against the local index."""
    for spec in (WheelSpec("lib", "1.0"), WheelSpec("tool", "0.5"), WheelSpec("rich", "13.9.4")):
        build_index.add(spec)
    project = _project(tmp_path / "myapp")
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "envsync").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m envsync "$@"\n')
    (shims / "envsync").chmod(0o755)
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO_ROOT),
           "ENVSYNC_INDEX_URL": build_index.url, "GIT_AUTHOR_NAME": "You", "GIT_AUTHOR_EMAIL": "you@example.invalid",
           "GIT_COMMITTER_NAME": "You", "GIT_COMMITTER_EMAIL": "you@example.invalid"}
    for git in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the project, before envsync"]):
        subprocess.run(["git", *git], cwd=project, env=env, check=True)
    ran = []
    for kind, lines in walkthrough_blocks():
        if kind == "toml":
            with open(project / "envs.toml", "a", encoding="utf-8") as config:
                config.write("\n" + "\n".join(lines) + "\n")
        if kind != "run":
            continue
        for line in lines:
            result = subprocess.run(["bash", "-c", line], cwd=project, env=env, capture_output=True, text=True,
                                    timeout=600, check=False)
            assert result.returncode == 0, f"README walkthrough: `{line}` failed:\n{result.stdout}{result.stderr}"
            ran.append((line, result.stdout + result.stderr))
    said = dict(ran)
    assert "No changes" not in said["envsync apply"] and (project / "pylock.dev.toml").exists()
    assert re.search(r"^3 wheels: 2 downloaded \(\d+\.\d MB\), 1 built$", said["envsync apply"], re.MULTILINE)
    assert "rich" in said["envsync plan --base HEAD"]
    assert "hello from myapp" in said["envsync run dev -- python -m myapp"]
    assert "hello from myapp" in said["envsync run dev:hello"]


def test_no_page_tells_you_to_install_the_other_projects_envsync():
    """`envsync` on the package index is someone else's project: every install line names this repository."""
    pages = [README, *sorted(DOCS.glob("*.md")), *sorted((REPO_ROOT / "examples").rglob("*.yml"))]
    bare = [f"{page.relative_to(REPO_ROOT)}: {line.strip()}" for page in pages for line in page.read_text().splitlines()
            if re.search(r"pip install (-\S+ )*envsync(?![\w\-\"@ ]*@)", line) and "never" not in line.lower()]
    assert not bare, "install envsync from its repository (README's Install), not the index:\n  " + "\n  ".join(bare)


def test_the_walkthroughs_review_finds_the_committed_lock_fresh(tmp_path: Path, build_index: LocalIndex):
    for spec in (WheelSpec("lib", "1.0"), WheelSpec("tool", "0.5")):
        build_index.add(spec)
    project = _project(tmp_path / "myapp")
    (project / "envs.toml").write_text(f'[settings]\nindex-url = "{build_index.url}"\n[envs.project]\nproject = "."\n')
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "GIT_AUTHOR_NAME": "You",
           "GIT_AUTHOR_EMAIL": "you@example.invalid", "GIT_COMMITTER_NAME": "You",
           "GIT_COMMITTER_EMAIL": "you@example.invalid"}
    run = [sys.executable, "-m", "envsync"]
    assert subprocess.run([*run, "apply"], cwd=project, env=env, capture_output=True, timeout=600).returncode == 0
    for git in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "locked"]):
        subprocess.run(["git", *git], cwd=project, env=env, check=True)
    review = subprocess.run([*run, "plan", "--base", "HEAD"], cwd=project, env=env, capture_output=True, text=True,
                            timeout=600)
    assert review.returncode == 0 and "out of date" not in review.stdout + review.stderr
