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

DEFAULT_INDEX = "https://pypi.org/simple"


def requirements_txt(spec: EnvSpec, lock: LockFile) -> str:
    """The lock as a hash-pinned requirements file (index lines only when not PyPI and credential-free)."""
    document = lock.document
    lines = [f"# The packages of env {spec.name}, exported by envsync from {lock.path.name}.",
             "# Install with: pip install --require-hashes -r FILE  (or: uv pip sync FILE)"]
    for marker in document.environments or ():
        lines.append(f"# Made for: {marker}")
    lines += _index_lines(spec)
    for package in sorted(document.packages, key=lambda p: p.name):
        if package.version is None:
            raise EnvsyncError(f"{lock.path.name}: package {package.name} has no version",
                               "only packages from an index or find-links folder can be exported")
        head = f"{package.name}=={package.version}"
        if package.marker is not None:
            head += f" ; {package.marker}"
        hashes = sorted({h for file in (*(package.wheels or ()), *([package.sdist] if package.sdist else ()))
                         for algorithm, h in file.hashes.items() if algorithm == "sha256"})
        lines.append(" \\\n".join([head, *(f"    --hash=sha256:{h}" for h in hashes)]))
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


def run(args, out, session) -> int:
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
    text = resolution.lock_path.read_text(encoding="utf-8") if pylock else requirements_txt(spec, lock)
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
