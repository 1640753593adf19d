"""The methods `dataclasses` writes for envsync's classes, compiled once per Python build, not at
every run.

A dataclass's __init__, __eq__, __hash__ and __repr__ (and a frozen one's __setattr__ and
__delattr__) are written as source text and compiled when its module is imported: about 0.75 ms
a class on CPython 3.11, 43 ms of the 255 ms a one-env apply took (57 classes), more than all
that separated it from `uv venv && uv pip sync`. The text is the same at every run, so the code
compiled from it is kept in the cache folder (marshal'd, one file per bytecode format) and given
to dataclasses in place of the text, as __pycache__ does for modules.

How: dataclasses calls `exec(text, globals, namespace)` (CPython 3.11 to 3.13), and a module's
global names are looked up before the builtins, so `dataclasses.exec` is set to an exec that
compiles each text once. It is set as dataclasses is imported, by a finder that watches for that
one module: a no-op plan never imports dataclasses (9 ms) nor reads the cache. Only the `envsync`
command does this (envsync.__main__), never an import of envsync as a library, such as the tests'
own process; an unreadable or foreign cache file only means compiling as before.
"""

from __future__ import annotations

import builtins
import marshal
import sys
from pathlib import Path
from types import CodeType
from typing import Any

MAX_ENTRIES = 5000  # texts kept at most: each envsync version that changes a class adds a few

_compiled: dict[str, CodeType] | None = None  # read from the cache at the first class
_added = False  # whether this run compiled a text the cache did not hold


def _exec(source: Any, globals: dict[str, Any] | None = None, locals: Any = None, /) -> None:  # noqa: A002
    """exec(), with a source text compiled once: from the cache when an earlier run compiled it."""
    global _compiled, _added
    if type(source) is str:
        if _compiled is None:
            _compiled = {}  # first: a class made while the cache is read is compiled, not read again
            _compiled.update(_read_cache())
        code = _compiled.get(source)
        if code is None:
            # As exec(text) in dataclasses compiles it: none of this module's __future__ flags.
            code = _compiled[source] = compile(source, "<string>", "exec", dont_inherit=True)
            _added = True
        source = code
    builtins.exec(source, globals, locals)


class _WhenDataclassesLoads:
    """A finder on sys.meta_path that answers for `dataclasses` alone, once: the standard path
    finder's spec, whose loader sets the module's `exec` once the module has run."""

    def __init__(self) -> None:
        self.done = False

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "dataclasses" or self.done:
            return None
        self.done = True
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return None  # not as expected: the other finders import it as usual
        run_module = loader.exec_module

        def exec_module(module: Any) -> None:
            run_module(module)
            module.exec = _exec

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _cache_file() -> Path:
    from importlib.util import MAGIC_NUMBER

    from envsync.files.cache import private_subdir

    # Code is run from it: a private entry (0600 in a 0700 folder), as the parsed config is.
    name = f"dataclass-methods-{sys.implementation.cache_tag}-{MAGIC_NUMBER.hex()}.marshal"
    return private_subdir("compiled") / name


def _read_cache() -> dict[str, CodeType]:
    """What earlier runs compiled; nothing when the cache can't be read, holds an entry this user
    alone could not have written (files.cache.read_private), or holds something else."""
    try:
        from envsync.errors import EnvsyncError
        from envsync.files.cache import read_private
    except ImportError:  # one of them being imported as its first class is made: compile this run
        return {}
    try:
        data = read_private(_cache_file())
        loaded = marshal.loads(data) if data is not None else {}
    except (EnvsyncError, OSError, EOFError, ValueError, TypeError):
        return {}
    if type(loaded) is not dict:
        return {}
    return {text: code for text, code in loaded.items() if type(text) is str and type(code) is CodeType}


def install() -> None:
    """From now on, dataclasses compile each method's text once per Python build (see above)."""
    loaded = sys.modules.get("dataclasses")
    if loaded is not None:
        loaded.exec = _exec  # type: ignore[attr-defined]
    else:
        sys.meta_path.insert(0, _WhenDataclassesLoads())


def save() -> None:
    """Keep what this run compiled for the next runs (with what another run kept meanwhile).
    Called as the command ends; a cache that can't be written costs the next run its compiles."""
    if not _added or _compiled is None:
        return
    from envsync.errors import EnvsyncError
    from envsync.files.cache import write_atomic

    merged = {**_read_cache(), **_compiled}
    if len(merged) > MAX_ENTRIES:
        merged = dict(_compiled)  # start over with what this version of envsync uses
    try:
        write_atomic(_cache_file(), marshal.dumps(merged), mode=0o600)
    except (EnvsyncError, OSError):
        return
