"""The wheel tags an interpreter accepts: one generator for the interpreter that runs an env
(from its probe) and for every platform a lock is made for (resolve/platforms.py), so the two
can't drift apart. The order is packaging.tags.sys_tags()'s: most preferred first."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

# CPUs PEP 600 defines manylinux for, and the glibc each starts at: manylinux1 (glibc 2.5) was
# only ever x86_64/i686; every other CPU starts at manylinux2014 (glibc 2.17).
MANYLINUX_ARCHS = {"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x", "loongarch64", "riscv64"}
OLDEST_GLIBC_X86 = (2, 5)
OLDEST_GLIBC = (2, 17)
LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


def wheel_tags(implementation: str, python_version: tuple[int, int], nodot: str, abis: Sequence[str],
               platforms: Sequence[str]) -> list[str]:
    """Every tag, as text, an interpreter of `implementation` ("cpython", "pypy", ...) and Python
    `python_version` accepts with these ABIs on these platform tags (most specific first)."""
    from packaging import tags

    if implementation == "cpython":
        specific = tags.cpython_tags(python_version, list(abis), list(platforms))
        interpreter: str | None = f"cp{nodot}"
    else:
        short = tags.INTERPRETER_SHORT_NAMES.get(implementation, implementation)
        specific = tags.generic_tags(f"{short}{nodot}", list(abis), list(platforms))
        interpreter = "pp3" if implementation == "pypy" else None
    general = tags.compatible_tags(python_version, interpreter, list(platforms))
    return list(dict.fromkeys(str(tag) for tag in (*specific, *general)))


def linux_platforms(platform: str, libc: tuple[str, str] | None, is_32bit: bool = False) -> Iterator[str]:
    """Platform tags of a Linux interpreter: `platform` is its sysconfig.get_platform() ("linux-x86_64"),
    `libc` its (name, version), e.g. ("glibc", "2.35") or ("musl", "1.2")."""
    linux = platform.replace(".", "_").replace("-", "_").replace(" ", "_")
    if not linux.startswith("linux_"):
        yield linux
        return
    if is_32bit:
        linux = {"linux_x86_64": "linux_i686", "linux_aarch64": "linux_armv8l"}.get(linux, linux)
    arch = linux.split("_", 1)[1]
    archs = ["armv8l", "armv7l"] if arch == "armv8l" else [arch]
    libc_name, libc_version = libc or (None, "")
    numbers = tuple(int(n) for n in re.findall(r"\d+", libc_version)[:2])
    yield from (f"linux_{a}" for a in archs)  # a wheel built on this very system first, as packaging 26 has it
    if libc_name == "glibc" and len(numbers) == 2 and MANYLINUX_ARCHS.intersection(archs):
        yield from manylinux_platforms(archs, (numbers[0], numbers[1]))
    elif libc_name == "musl" and len(numbers) == 2:
        yield from (f"musllinux_{numbers[0]}_{minor}_{a}" for a in archs for minor in range(numbers[1], -1, -1))


def manylinux_platforms(archs: Iterable[str], glibc: tuple[int, int]) -> Iterator[str]:
    """manylinux_2_N for a system with this glibc, down to the oldest glibc PEP 600 allows
    (2.5 for x86_64/i686, 2.17 for every other CPU), with the legacy alias (manylinux2014,
    2010, 1) after its twin."""
    archs = list(archs)
    oldest = OLDEST_GLIBC_X86 if {"x86_64", "i686"}.intersection(archs) else OLDEST_GLIBC
    highest = [glibc] + [(major, 50) for major in range(glibc[0] - 1, 1, -1)]  # glibc majors stay compatible
    for arch in archs:
        for major, top_minor in highest:
            lowest = oldest[1] if major == oldest[0] else 0
            for minor in range(top_minor, lowest - 1, -1):
                yield f"manylinux_{major}_{minor}_{arch}"
                legacy = LEGACY_MANYLINUX.get((major, minor))
                if legacy:
                    yield f"{legacy}_{arch}"
