"""`envsync export ENV`: the env's locked set for other tools, as requirements.txt or PEP 751.

The requirements form pins every package with `==` and lists the sha256 of every file
the lock allows, so `pip install --require-hashes -r` and `uv pip sync` install exactly
what envsync would.
"""

from __future__ import annotations

from pathlib import Path

from envsync.errors import EnvsyncError, from_os_error
from envsync.model import EnvSpec
from envsync.resolve.lockfile import LockFile, read_lock

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    import argparse

    from envsync.cli import Output
    from envsync.state.session import Session

DEFAULT_INDEX = "https://pypi.org/simple"


def requirements_txt(spec: EnvSpec, lock: LockFile, base: Path, *, emit_project: bool = True) -> str:
    """The lock as a hash-pinned requirements file (index lines only when not PyPI and credential-free).

    Each package's line is its source kind's: `name==version` with hashes for an index's files,
    `name @ URL` (with its hash) for an archive or git commit, `-e ./path` for a local project,
    the path relative to `base` (the folder of envs.toml, where the file is meant to be used)."""
    from envsync.sources import source_from_lock, source_of_index

    document = lock.document
    sources = {package.name: source_from_lock(package, lock.path) or source_of_index()
               for package in document.packages}
    projects = [name for name, source in sources.items() if source.is_project()]
    lines = [f"# The packages of env {spec.name}, exported by envsync from {lock.path.name}.",
             "# Install from the folder of envs.toml (local paths are relative to it) with:",
             "#   pip install -r FILE  (or: uv pip sync FILE)"]
    if projects and emit_project:
        lines += ["# pip --require-hashes refuses editable and folder lines: export with --no-emit-project",
                  "# for hash-checking mode, and install the project(s) separately."]
    else:
        lines += ["# Every line is hashed: pip install --require-hashes -r FILE checks each file."]
    for marker in document.environments or ():
        lines.append(f"# Made for: {marker}")
    lines += _index_lines(spec)
    for package in sorted(document.packages, key=lambda p: p.name):
        source = sources[package.name]
        if source.is_project() and not emit_project:
            continue
        if package.version is None and not source.is_project():
            raise EnvsyncError(f"{lock.path.name}: package {package.name} has no version",
                               "re-lock with `envsync lock`")
        lines.append(source.export_line(package, base))
    return "\n".join(lines) + "\n"


def _index_lines(spec: EnvSpec) -> list[str]:
    from urllib.parse import urlsplit

    index = spec.index
    lines = []
    urls = [("--index-url", index.index_url)] + [("--extra-index-url", url) for url in index.extra_index_urls]
    for option, url in urls:
        if not url or (option == "--index-url" and url.rstrip("/") == DEFAULT_INDEX):
            continue
        if "@" in urlsplit(url).netloc:
            lines.append(f"# {option} omitted: it carries credentials; pass it to the installer yourself")
        else:
            lines.append(f"{option} {url}")
    lines += [f"--find-links {folder}" for folder in index.find_links]
    return lines


def run(args: argparse.Namespace, out: Output, session: Session) -> int:
    """Write the export to stdout, or to args.output."""
    from envsync.commands._shared import locked, one_env

    note = out.note
    try:
        spec = one_env(session, args.env, args.command)
        resolution = locked(session, spec, note, here=False)  # the whole lock, for any platform
    finally:
        session.close()
    lock = read_lock(resolution.lock_path)
    if lock is None:  # written just now, unless the disk said no
        raise EnvsyncError(f"{resolution.lock_path.name} could not be read back", "run `envsync lock` and retry")
    pylock = args.format == "pylock"
    if pylock:
        text = resolution.lock_path.read_text(encoding="utf-8")
    else:
        text = requirements_txt(spec, lock, session.config.directory, emit_project=not args.no_emit_project)
    if args.output is None:
        out.result(text.removesuffix("\n"))
        return 0
    target = Path(args.output)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise from_os_error(exc, target) from exc
    note(f"wrote {target}")
    return 0
