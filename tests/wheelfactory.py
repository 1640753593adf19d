"""Build small, real wheels for tests — well-formed ones, and hostile ones on request.

A wheel is a zip with a `{name}-{version}.dist-info/` holding METADATA, WHEEL and
RECORD. `make_wheel` writes exactly that, with the RECORD hashes computed from the
bytes written, unless a test asks for a lie (`record_override`, `extra_entries`).
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def dist_name(name: str) -> str:
    """The file-name form of a project name (PEP 427/491: runs of -_. become _)."""
    import re

    return re.sub(r"[-_.]+", "_", name).lower()


@dataclass
class WheelSpec:
    name: str
    version: str
    requires: list[str] = field(default_factory=list)  # Requires-Dist lines
    requires_python: str | None = None
    extras: dict[str, list[str]] = field(default_factory=dict)  # extra -> requirements
    tag: str = "py3-none-any"
    files: dict[str, bytes | str] | None = None  # archive path -> content; default: a module
    console_scripts: dict[str, str] = field(default_factory=dict)  # name -> "module:func"
    # Raw (archive path, bytes) entries appended after everything else, RECORD-listed or not.
    extra_entries: list[tuple[str, bytes]] = field(default_factory=list)
    record_extra_entries: bool = True
    record_override: str | None = None  # replace RECORD's text entirely
    symlinks: dict[str, str] = field(default_factory=dict)  # archive path -> link target
    gui_scripts: dict[str, str] = field(default_factory=dict)  # name -> "module:func"
    wheel_version: str = "1.0"  # the WHEEL file's Wheel-Version
    omit: tuple[str, ...] = ()  # dist-info files to leave out: "METADATA", "WHEEL", "RECORD"

    @property
    def filename(self) -> str:
        return f"{dist_name(self.name)}-{self.version}-{self.tag}.whl"

    @property
    def dist_info(self) -> str:
        return f"{dist_name(self.name)}-{self.version}.dist-info"


def metadata_text(spec: WheelSpec) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {spec.name}", f"Version: {spec.version}"]
    if spec.requires_python:
        lines.append(f"Requires-Python: {spec.requires_python}")
    lines += [f"Requires-Dist: {req}" for req in spec.requires]
    for extra, reqs in spec.extras.items():
        lines.append(f"Provides-Extra: {extra}")
        for req in reqs:
            joiner = " and " if ";" in req else "; "
            if ";" in req:
                base, marker = req.split(";", 1)
                lines.append(f"Requires-Dist: {base.strip()}; ({marker.strip()}) and extra == '{extra}'")
            else:
                lines.append(f"Requires-Dist: {req}{joiner}extra == '{extra}'")
    return "\n".join(lines) + "\n\n"


def make_wheel(directory: Path, spec: WheelSpec) -> Path:
    """Write `spec` as a wheel into `directory` and return its path."""
    module = dist_name(spec.name)
    files = dict(spec.files) if spec.files is not None else {
        f"{module}/__init__.py": f"__version__ = {spec.version!r}\n"
                                 f"def main():\n    print('{spec.name} {spec.version}')\n",
    }
    di = spec.dist_info
    files[f"{di}/METADATA"] = metadata_text(spec)
    files[f"{di}/WHEEL"] = (
        f"Wheel-Version: {spec.wheel_version}\nGenerator: envsync-tests\nRoot-Is-Purelib: true\n"
        f"Tag: {spec.tag}\n"
    )
    sections = {"console_scripts": spec.console_scripts, "gui_scripts": spec.gui_scripts}
    entry_points = "".join(
        f"[{section}]\n" + "".join(f"{name} = {target}\n" for name, target in scripts.items())
        for section, scripts in sections.items() if scripts
    )
    if entry_points:
        files[f"{di}/entry_points.txt"] = entry_points
    for omitted in spec.omit:
        files.pop(f"{di}/{omitted}", None)
    encoded = {path: (c.encode() if isinstance(c, str) else c) for path, c in files.items()}

    record_lines = [f"{path},{record_hash(data)},{len(data)}" for path, data in encoded.items()]
    if spec.record_extra_entries:
        record_lines += [f"{p},{record_hash(d)},{len(d)}" for p, d in spec.extra_entries]
    record_lines.append(f"{di}/RECORD,,")
    record = spec.record_override if spec.record_override is not None else "\n".join(record_lines) + "\n"

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / spec.filename
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in encoded.items():
            zf.writestr(_entry(path), data)
        for path, link_target in spec.symlinks.items():
            info = zipfile.ZipInfo(path)
            info.external_attr = (0o120777 << 16)  # S_IFLNK | 0777
            zf.writestr(info, link_target)
        for path, data in spec.extra_entries:
            zf.writestr(_entry(path), data)
        if "RECORD" not in spec.omit:
            zf.writestr(_entry(f"{di}/RECORD"), record)
    return target


def _entry(path: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed timestamp, so the same spec always builds the same bytes.

    A test that rebuilds a wheel and expects its old sha256 would otherwise fail whenever the two
    builds fall in different seconds.
    """
    info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


def read_metadata(wheel: Path) -> bytes:
    """The METADATA bytes of a wheel, as an index serves them for PEP 658."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return zf.read(info)
    raise ValueError(f"{wheel} has no METADATA")
