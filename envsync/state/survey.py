"""What is really at an env's path: is it a venv, from which Python, with which dists.

Reads only files (pyvenv.cfg, dist-info folders); it never runs the env's
interpreter, so surveying stays cheap enough for every `plan`. Asked to verify
(--refresh), it also checks every file each RECORD lists, and every declared script.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from envsync.files.metadata import name_and_version, record_rows, script_names
from envsync.model import Actual, EnvKind, Installed

OWNER_KEY = "envsync-config"  # the pyvenv.cfg line naming the config an env was made for


def read_pyvenv_cfg(path: Path) -> dict[str, str]:
    """The key = value lines of a venv's pyvenv.cfg (keys lower-cased)."""
    values: dict[str, str] = {}
    try:
        text = (path / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return values
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def site_packages(path: Path, python_version: Version | None) -> Path | None:
    """The venv's site-packages folder (posix layout)."""
    if python_version is not None:
        candidate = path / "lib" / f"python{python_version.major}.{python_version.minor}" / "site-packages"
        if candidate.is_dir():
            return candidate
    found = sorted((path / "lib").glob("python*/site-packages"))
    return found[0] if found else None


HASH_VARIABLE = "ENVSYNC_VERIFY_HASHES"  # "1": verifying also compares every file's hash with RECORD


def survey(path: Path, *, verify: bool = False) -> Actual:
    """The actual state of the env at `path`; with `verify`, every installed file is checked too."""
    if not os.path.lexists(path):
        return Actual(path=path, kind=EnvKind.MISSING)
    if not path.is_dir() or not (path / "pyvenv.cfg").is_file():
        return Actual(path=path, kind=EnvKind.FOREIGN)
    cfg = read_pyvenv_cfg(path)
    version = _version(cfg.get("version_info") or cfg.get("version") or "")
    python = path / "bin" / "python"
    folder = site_packages(path, version)
    return Actual(
        path=path,
        kind=EnvKind.VENV,
        python_version=version,
        python_home=cfg.get("home"),
        interpreter_ok=python.exists(),
        installed=installed_dists(folder, verify=verify) if folder else {},
        owner=cfg.get(OWNER_KEY),
        verified=verify,
    )


def _version(text: str) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def installed_dists(folder: Path, *, verify: bool = False) -> dict[NormalizedName, Installed]:
    """Every `*.dist-info` in `folder`, by normalised name; `verify` checks their files too."""
    found: dict[NormalizedName, Installed] = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        if not entry.name.endswith(".dist-info") or not entry.is_dir():
            continue
        dist = _read_dist_info(Path(entry.path))
        if dist is None:
            continue
        if verify and dist.intact:
            dist = _verified(dist, folder)
        other = found.get(dist.name)
        if other is not None:
            # Two versions at once (a replace killed halfway, or two tools): the newer one
            # stands for the project, and is reinstalled, which removes the other.
            dist = replace(max(dist, other, key=lambda d: (d.version, d.dist_info.name)), intact=False)
        found[dist.name] = dist
    return dict(sorted(found.items()))


def _read_dist_info(folder: Path) -> Installed | None:
    name, version = _name_and_version(folder)
    if name is None or version is None:
        return None
    direct = _direct_url(folder)
    return Installed(
        name=canonicalize_name(name),
        version=version,
        dist_info=folder,
        installer=_read_text(folder / "INSTALLER"),
        direct_url=direct[0] if direct else None,
        editable=direct[1] if direct else False,
        source_id=direct[2] if direct else None,
        entry_points=_entry_points(folder) if direct else None,
        requires=_requires(folder) if direct and direct[1] else None,
        # Every installer writes RECORD and INSTALLER; envsync writes INSTALLER last and
        # removes it first, so a dist-info without both is a half-done install or uninstall.
        intact=(folder / "RECORD").is_file() and (folder / "INSTALLER").is_file(),
    )


def _name_and_version(folder: Path) -> tuple[str | None, Version | None]:
    """Name and Version from METADATA's headers; the folder name is the fallback."""
    try:
        with open(folder / "METADATA", encoding="utf-8", errors="replace") as handle:
            name, version = name_and_version(handle)
    except OSError:
        stem = folder.name.removesuffix(".dist-info")
        name, _, version = stem.partition("-")
    return name, _version(version or "")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def _direct_url(folder: Path) -> tuple[str, bool, str | None] | None:
    """(url, editable, commit id or archive sha256) from a PEP 610 direct_url.json, if any."""
    text = _read_text(folder / "direct_url.json")
    if not text:
        return None
    try:
        document = json.loads(text)
        url = str(document.get("url") or "")
        if not url:
            return None
        editable = bool((document.get("dir_info") or {}).get("editable", False))
        source_id = (document.get("vcs_info") or {}).get("commit_id")
        archive = document.get("archive_info") or {}
        if source_id is None and archive:
            hashes = archive.get("hashes") or {}
            source_id = hashes.get("sha256") or str(archive.get("hash", "")).removeprefix("sha256=") or None
        return url, editable, str(source_id) if source_id else None
    except (ValueError, AttributeError, TypeError):
        return None


# --- verifying files (--refresh) -------------------------------------------------------------


def _verified(dist: Installed, site: Path) -> Installed:
    """`dist` with the files its RECORD lists, and the scripts it declares, that are missing or changed."""
    hashes = os.environ.get(HASH_VARIABLE, "").strip() not in ("", "0")
    site_text = os.path.normpath(site)
    root = os.path.dirname(os.path.dirname(os.path.dirname(site_text)))  # lib/pythonX.Y/site-packages -> the env
    missing: list[str] = []
    changed: list[str] = []
    listed: set[str] = set()
    for path, digest, size in record_rows(dist.dist_info / "RECORD"):
        target = os.path.normpath(os.path.join(site_text, path))
        if path.endswith(".pyc") or not target.startswith(root + os.sep):
            continue  # bytecode is a cache Python rebuilds; nothing outside the env is ours to judge
        listed.add(target)
        try:
            info = os.stat(target)
        except OSError:
            missing.append(_shown(target, site_text, root))
            continue
        wrong_size = size.isdigit() and int(size) != info.st_size
        if not stat.S_ISREG(info.st_mode) or wrong_size or (hashes and digest and not _hash_matches(target, digest)):
            changed.append(_shown(target, site_text, root))
    for script in _declared_scripts(dist.dist_info):
        target = os.path.join(root, "bin", script)
        if target not in listed and not os.path.exists(target):
            missing.append(_shown(target, site_text, root))
    return replace(dist, missing_files=tuple(missing), changed_files=tuple(changed))


def _shown(target: str, site: str, root: str) -> str:
    """A path as people know it: from site-packages for modules, from the env for bin/ and the rest."""
    base = site if target.startswith(site + os.sep) else root
    return os.path.relpath(target, base)


def _hash_matches(path: str, digest: str) -> bool:
    from envsync.files.hashes import matches_record_digest

    return matches_record_digest(path, digest) is not False  # an unknown algorithm: nothing to check


def _declared_scripts(dist_info: Path) -> list[str]:
    """Console and GUI script names from entry_points.txt: each should be a file in bin/."""
    return script_names(_read_text(dist_info / "entry_points.txt") or "")

def _requires(folder: Path) -> tuple[str, ...]:
    from envsync.files.metadata import requires_dist

    try:
        with open(folder / "METADATA", encoding="utf-8", errors="replace") as handle:
            return requires_dist(handle)
    except OSError:
        return ()


def _entry_points(folder: Path) -> str:
    from envsync.files.metadata import entry_points_digest, parse_entry_points

    return entry_points_digest(parse_entry_points(_read_text(folder / "entry_points.txt") or ""))
