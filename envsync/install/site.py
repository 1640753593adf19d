"""Link an unpacked wheel into a venv, or put it in place of an installed version, never touching
anything outside the venv. Taking one out is uninstall.py's job."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from envsync.files.metadata import record_rows
from envsync.install.file_plan import FileOp, PlannedInstall, plan_install, record_text
from envsync.install.layout import STAGED_SUFFIX, SiteLayout
from envsync.install.link_helpers import LinkHelpers
from envsync.install.shared import SharedFiles
from envsync.install.targets import check_targets
from envsync.install.uninstall import checked_dist_info, prune, remove_listed
from envsync.install.wheel import UnpackedWheel

# When os.link fails with one of these, copying works where linking can't (other device, no permission...).
_LINK_FALLBACK = frozenset(
    code for code in (errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOTSUP,
                      errno.EOPNOTSUPP, errno.ENOSYS) if code is not None
)


# --- install ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sharing:
    """What an install may do to files other packages have: write over those of packages the same
    apply removes or replaces (`overwritable`), and keep `files` current for the removals after it."""

    files: SharedFiles
    overwritable: frozenset[str] = frozenset()


def install_wheel(unpacked: UnpackedWheel, layout: SiteLayout, *, requested: bool = False,
                  direct_url: bytes | None = None, sharing: Sharing | None = None) -> None:
    """Put `unpacked` into the venv of `layout`; all or nothing (best effort on rollback).

    None of its files may exist yet, unless with the same bytes (a file two packages ship,
    left in place and listed by both): see `replace_wheel` for a package that is installed."""
    install_planned(plan_install(unpacked, layout, requested=requested, direct_url=direct_url), layout,
                    sharing=sharing)


def replace_wheel(old: Path, unpacked: UnpackedWheel, layout: SiteLayout, *, requested: bool = False,
                  direct_url: bytes | None = None, sharing: Sharing | None = None) -> None:
    """Put `unpacked` in place of the installed dist-info `old`: an upgrade, downgrade or reinstall."""
    install_planned(plan_install(unpacked, layout, requested=requested, direct_url=direct_url), layout, old=old,
                    sharing=sharing)


def install_planned(planned: PlannedInstall, layout: SiteLayout, *, old: Path | None = None,
                    sharing: Sharing | None = None, helpers: LinkHelpers | None = None) -> None:
    """Carry out `planned`, in place of the installed dist-info `old` when given.

    A replaced version stays installed and importable until the new one is in place: every
    target of the new wheel is checked first (it may overwrite only files the old version
    owns), its files that replace old ones are staged beside them, and only then renamed
    over them; the old files the new version does not own go last. A refusal or a failure
    while staging (a full disk) leaves the old version as it was. A kill after staging
    leaves a dist-info without INSTALLER, which the next apply replaces again; other
    dist-infos of the same project (such a kill leaves two) are replaced with it.
    """
    previous = _previous(old, planned.unpacked, layout) if old is not None else _Previous()
    _install(planned, layout, previous, sharing or Sharing(SharedFiles(layout)), helpers=helpers).complete()


@dataclass(frozen=True)
class StagedInstall:
    """A new package whose files are all in place but its INSTALLER: it reads as incomplete until
    `complete()` writes that (and lists its files as shared ones); `undo()` takes it out again.

    Apply installs the packages of one env side by side and completes them in plan order, so the
    N-th package completed is always the N-th of the plan, however the threads ran."""

    complete: Callable[[], None]
    undo: Callable[[], None]


def stage_install(planned: PlannedInstall, layout: SiteLayout, *, sharing: Sharing | None = None,
                  stopped: Callable[[], bool] | None = None, helpers: LinkHelpers | None = None) -> StagedInstall:
    """Installing a new package up to its last file: see StagedInstall. When `stopped()` turns
    true while the files are being placed, they are taken out again and InstallStopped is raised.
    `helpers` may place part of a big wheel's files (link_helpers.py)."""
    return _install(planned, layout, _Previous(), sharing or Sharing(SharedFiles(layout)), stopped, helpers)


def check_against_env(planned: PlannedInstall, layout: SiteLayout, *, old: Path | None,
                      overwritable: frozenset[str]) -> None:
    """Refuse, writing nothing, what carrying out `planned` in the env as it is now would refuse."""
    previous = _previous(old, planned.unpacked, layout) if old is not None else _Previous()
    check_targets(planned.targets, layout, owned=previous.owned, owned_folders=previous.records,
                  overwritable=overwritable, label=planned.label)


@dataclass(frozen=True)
class _Previous:
    """What an install replaces: the old dist-info folders and the RECORD rows of each."""

    records: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # dist-info -> rows
    owned: frozenset[str] = frozenset()  # every listed path, absolute and normalised
    incomplete: frozenset[str] = frozenset()  # dist-infos without INSTALLER: may have staged files left


def _previous(old: Path, unpacked: UnpackedWheel, layout: SiteLayout) -> _Previous:
    """`old` and every other dist-info of the same project, with what their RECORDs list."""
    from packaging.utils import canonicalize_name

    folders = {_checked_dist_info(old, layout)}
    project = canonicalize_name(unpacked.name)
    with contextlib.suppress(OSError):
        for entry in os.scandir(layout.site_packages):
            name, _, _ = entry.name.removesuffix(".dist-info").rpartition("-")
            if (entry.name.endswith(".dist-info") and name and canonicalize_name(name) == project
                    and entry.is_dir(follow_symlinks=False)):
                folders.add(os.path.join(layout.site_packages, entry.name))
    records = {folder: record_rows(Path(folder) / "RECORD") for folder in sorted(folders) if os.path.isdir(folder)}
    owned = frozenset(os.path.normpath(os.path.join(layout.site_packages, row[0]))
                      for rows in records.values() for row in rows)
    incomplete = frozenset(folder for folder in records if not os.path.exists(os.path.join(folder, "INSTALLER")))
    return _Previous(records, owned, incomplete)


class InstallStopped(Exception):
    """The stop flag was seen while a wheel's files were being placed: they were taken out again."""


_STOP_EVERY = 64  # files placed between two looks at the stop flag
HELP_AT = 256  # a wheel with this many plain links gives part of them to a link helper


def _install(planned: PlannedInstall, layout: SiteLayout, old: _Previous, sharing: Sharing,
             stopped: Callable[[], bool] | None = None, helpers: LinkHelpers | None = None) -> StagedInstall:
    ops, dist_info, rows = planned.ops, planned.dist_info, planned.rows
    record_path = os.path.join(dist_info, "RECORD")
    placement = check_targets(planned.targets, layout, owned=old.owned, owned_folders=old.records,
                              overwritable=sharing.overwritable, label=planned.label)
    replacing = placement.replacing
    new_paths = {os.path.normpath(op.dest) for op in ops} | {record_path} if old.records else set()
    # Installing into a dist-info of the same name (a reinstall) overwrites its RECORD: the
    # rows only the old one has are kept in it until their files are gone.
    kept = [row for row in old.records.get(dist_info, [])
            if os.path.normpath(os.path.join(layout.site_packages, row[0])) not in new_paths]
    saved = _saved(dist_info) if dist_info in old.records else {}  # to put back if this fails
    created_files: list[str] = []
    created_dirs: list[str] = []
    made: set[str] = set()
    staged: list[tuple[str, str]] = []
    *body, installer = ops
    # RECORD is written first and INSTALLER (the last op) last: killed at any moment, the
    # dist-info lists every file placed so far and reads as incomplete until INSTALLER lands.
    try:
        if saved:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(dist_info, "INSTALLER"))
        _make_parents(dist_info, created_dirs, made, placement.folders)
        if record_path in saved:
            _swap_in(record_path, record_text([*rows[:-1], *kept, rows[-1]]))
        else:
            _write_new(record_path, record_text(rows), created_files)
        linker = _Linker()

        def place(ops: list[FileOp], should_stop: Callable[[], bool]) -> None:
            for number, op in enumerate(ops):
                if number % _STOP_EVERY == 0 and should_stop():
                    raise InstallStopped
                if op.dest in placement.shared:
                    continue  # the same bytes are there already, another package's too
                _make_parents(op.dest.rpartition(os.sep)[0], created_dirs, made, placement.folders)  # a normal path
                if op.dest in replacing:
                    temp = op.dest + STAGED_SUFFIX
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temp)  # left by an earlier attempt that was killed
                    _place(op._replace(dest=temp), linker, created_files)
                    staged.append((temp, op.dest))
                else:
                    _place(op, linker, created_files)

        own, shares = _helper_shares(body, placement.shared | replacing, helpers.per_wheel if helpers is not None else 0)
        jobs = []
        rest: list[FileOp] = []
        try:
            for share in shares:
                job = helpers.submit([(op.source, op.dest) for op in share if op.source is not None],  # all have one
                                     placement.folders) if helpers is not None else None
                if job is None:
                    own += share  # no helper is idle: this part is ours too
                else:
                    jobs.append((share, job))
            place(own if jobs else body, stopped or _never)
        finally:  # what every helper made is known before anything is rolled back
            for share, job in jobs:
                linked = job.result()
                created_files += [op.dest for op in share[:linked.count]]
                created_dirs += linked.folders
                rest += share[linked.count:] if linked.known else _not_linked(share, created_files)
        place(rest, stopped or _never)  # what a helper could not link: our turn, our errors
    except BaseException:
        _rollback(created_files, created_dirs)
        for path, content in saved.items():
            with contextlib.suppress(OSError):
                _swap_in(path, content)
        raise
    if not old.records and not staged:  # a new package: nothing of it counts until INSTALLER is written
        def complete() -> None:
            _place(installer, _Linker(), [])
            sharing.files.installed(dist_info, [row[0] for row in rows])

        return StagedInstall(complete, lambda: _rollback(created_files, created_dirs))
    # From here on nothing is undone: renames do not need space, and a kill leaves a
    # dist-info without INSTALLER that lists every file, which the next apply replaces.
    for temp, dest in staged:
        os.replace(temp, dest)
        if os.path.lexists(temp):  # both were links to one cached file: rename(2) leaves them be
            os.unlink(temp)
    _remove_stale_bytecode([dest for _, dest in staged if dest.endswith(".py")])
    _place(installer, _Linker(), [])
    if old.records:
        _remove_previous(old, new_paths, dist_info, layout, sharing.files)
        if kept:
            _swap_in(record_path, record_text(rows))
    for folder in old.records:
        sharing.files.removed(folder)
    sharing.files.installed(dist_info, [row[0] for row in rows])
    return StagedInstall(_nothing, _nothing)


def _never() -> bool:
    return False


def _helper_shares(body: list[FileOp], existing: frozenset[str], helpers: int) -> tuple[list[FileOp], list[list[FileOp]]]:
    """A big wheel's files cut into one part per link helper and one for this thread: equal runs in
    RECORD order (so that each part makes mostly its own folders, the dominant cost, and all finish
    together). A helper's part keeps only plain links of files that do not exist yet; the other
    files of its run are this thread's."""
    if len(body) < HELP_AT or helpers < 1:
        return body, []
    size = -(-len(body) // (helpers + 1))
    own, shares = body[:size], []
    for start in range(size, len(body), size):
        share: list[FileOp] = []
        for op in body[start:start + size]:
            plain = op.source is not None and op.content is None and not op.executable and op.dest not in existing
            (share if plain else own).append(op)
        if share:
            shares.append(share)
    return own, shares


def _not_linked(share: list[FileOp], created: list[str]) -> list[FileOp]:
    """After a helper died mid-job: the files of its share it did not link. None of them existed
    at the check and the env is locked, so a destination that is the cached file itself is its
    work (and ours to take out on a rollback)."""
    rest = []
    for op in share:
        try:
            done = op.source is not None and os.path.samefile(op.dest, op.source)
        except OSError:
            done = False
        if done:
            created.append(op.dest)
        else:
            rest.append(op)
    return rest


def _nothing() -> None:
    """What completing or undoing an install that was carried out whole does."""




def _remove_stale_bytecode(sources: list[str]) -> None:
    """Bytecode compiled from the old versions of replaced sources: one look at each __pycache__."""
    stems: dict[str, set[str]] = {}
    for source in sources:
        folder, name = os.path.split(source)
        stems.setdefault(os.path.join(folder, "__pycache__"), set()).add(name[:-3])
    for cache, names in stems.items():
        if os.path.islink(cache) or not os.path.isdir(cache):
            continue
        for entry in os.scandir(cache):
            stem = entry.name.split(".", 1)[0]
            if stem in names and entry.name.endswith(".pyc") and not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)


def _checked_dist_info(dist_info: Path, layout: SiteLayout) -> str:
    return os.path.join(layout.site_packages, checked_dist_info(dist_info, layout, "change").name)


def _saved(dist_info: str) -> dict[str, bytes]:
    """The files of a dist-info that a reinstall into it overwrites or removes first, to put back."""
    saved = {}
    for name in ("RECORD", "INSTALLER"):
        with contextlib.suppress(OSError):
            saved[os.path.join(dist_info, name)] = Path(dist_info, name).read_bytes()
    return saved


def _swap_in(path: str, content: bytes) -> None:
    """Replace the file at `path` by `content` in one rename."""
    temp = path + STAGED_SUFFIX
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
    with open(temp, "xb") as out:
        out.write(content)
    os.replace(temp, path)


def _remove_previous(old: _Previous, new_paths: set[str], dist_info: str, layout: SiteLayout,
                     shared: SharedFiles) -> None:
    """Remove what the old dist-infos list and the new one does not (nor another package), then
    the old dist-infos."""
    leaving = {*old.records, dist_info}
    touched: set[Path] = set()
    for folder, rows in old.records.items():
        stale = folder in old.incomplete
        for listed, _, _ in rows:
            target = os.path.normpath(os.path.join(layout.site_packages, listed))
            if stale:
                touched |= remove_listed(listed + STAGED_SUFFIX, layout)
            goes_with_folder = folder != dist_info and target.startswith(folder + os.sep)
            if target not in new_paths and not goes_with_folder and not shared.kept(target, leaving):
                touched |= remove_listed(listed, layout)
    prune(touched, layout)
    for folder in old.records:
        if folder != dist_info and os.path.isdir(folder) and not os.path.islink(folder):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, "INSTALLER"))
            shutil.rmtree(folder)


class _Linker:
    """Hard-links from the cache until the filesystem refuses once, then copies."""

    def __init__(self) -> None:
        self.linking = True

    def link_or_copy(self, source: str, dest: str, created: list[str]) -> None:
        if self.linking:
            try:
                os.link(source, dest)
                created.append(dest)
                return
            except OSError as exc:
                if exc.errno not in _LINK_FALLBACK:
                    raise
                self.linking = False
        with open(source, "rb") as src, _create(dest, created) as out:
            shutil.copyfileobj(src, out, 1 << 20)
        shutil.copymode(source, dest)


def _create(path: str, created: list[str]) -> io.BufferedWriter:
    handle = open(path, "xb")  # noqa: SIM115 - returned open; never replace a file that appeared since the check
    created.append(path)
    return handle


def _place(op: FileOp, linker: _Linker, created: list[str]) -> None:
    if op.content is not None:
        _write_new(op.dest, op.content, created)
    elif op.source is not None:
        linker.link_or_copy(op.source, op.dest, created)
    if op.executable and not os.stat(op.dest).st_mode & stat.S_IXUSR:
        os.chmod(op.dest, 0o755)


def _write_new(path: str, content: bytes, created: list[str]) -> None:
    with _create(path, created) as out:
        out.write(content)


def _make_parents(folder: str, created: list[str], made: set[str], existing: frozenset[str]) -> None:
    """Make `folder` and its missing parents, parents first, one mkdir each; `made` remembers
    folders already seen to exist, `existing` those that existed at the check (Placement.folders).
    A folder made meanwhile by a package installed beside this one only makes mkdir fail as
    existing."""
    if folder in made:
        return
    parent = os.path.dirname(folder)
    if parent != folder and parent not in made and parent not in existing:
        _make_parents(parent, created, made, existing)
    _make_folder(folder, created)
    made.add(folder)


def _make_folder(folder: str, created: list[str]) -> None:
    try:
        os.mkdir(folder)
    except FileExistsError:  # there already, or made meanwhile by a package installed beside this one
        if not os.path.isdir(folder):
            raise
    else:
        created.append(folder)


def _rollback(files: list[str], folders: list[str]) -> None:
    for path in reversed(files):
        with contextlib.suppress(OSError):
            os.unlink(path)
    # Deepest first: a wheel placed by several threads lists its folders in no single order.
    for folder in sorted(folders, key=lambda folder: folder.count(os.sep), reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
