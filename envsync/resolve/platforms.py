"""The platforms a lock with `environments` serves: from PEP 508 markers to marker values and wheel tags.

Such a lock is resolved here once per platform its markers describe, without that platform's
interpreter: the env's own interpreter gives the Python version, and the platform gives
`sys_platform`, `platform_machine` and friends and the wheel tags its CPython accepts. The
result must not depend on the machine that made the lock, so every platform's tags are fixed
here (manylinux up to glibc 2.28, macOS 14), never read from this machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from envsync.errors import ConfigError
from envsync.model import Interpreter

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from packaging.markers import Marker

# The oldest glibc and macOS a lock made here installs on: a wheel that needs a newer system is
# not chosen. Part of the lock's input digest, so a change here re-locks.
GLIBC_MINOR = 28
MACOS = (14, 0)


@dataclass(frozen=True)
class Platform:
    """An operating system and CPU a lock can be made for, as its interpreter reports them."""

    sys_platform: str
    machine: str  # platform.machine() on that system: "x86_64", "arm64", "AMD64"
    os_name: str
    system: str  # platform.system()
    label: str  # for people: "macOS arm64"
    implied: bool  # chosen by a marker that names only the operating system

    @property
    def marker(self) -> str:
        return f"sys_platform == '{self.sys_platform}' and platform_machine == '{self.machine}'"

    def platform_tags(self) -> list[str]:
        """Wheel platform tags this system accepts, most specific first (the generator that gives
        a probed interpreter its tags, for a glibc of 2.GLIBC_MINOR)."""
        from packaging.tags import mac_platforms

        from envsync.pythons.wheel_tags import linux_platforms

        if self.sys_platform == "linux":
            return list(linux_platforms(f"linux-{self.machine}", ("glibc", f"2.{GLIBC_MINOR}")))
        if self.sys_platform == "darwin":
            return list(mac_platforms(MACOS, self.machine))
        return [{"AMD64": "win_amd64", "ARM64": "win_arm64", "x86": "win32"}[self.machine]]


KNOWN_PLATFORMS = (
    Platform("linux", "x86_64", "posix", "Linux", "Linux x86_64", implied=True),
    Platform("linux", "aarch64", "posix", "Linux", "Linux aarch64", implied=True),
    Platform("darwin", "arm64", "posix", "Darwin", "macOS arm64", implied=True),
    # Intel Macs: many projects no longer publish wheels for them, so they are named, not implied.
    Platform("darwin", "x86_64", "posix", "Darwin", "macOS x86_64", implied=False),
    Platform("win32", "AMD64", "nt", "Windows", "Windows AMD64", implied=True),
    Platform("win32", "ARM64", "nt", "Windows", "Windows ARM64", implied=False),
    Platform("win32", "x86", "nt", "Windows", "Windows x86", implied=False),
)


@dataclass(frozen=True)
class Target:
    """One platform a lock is resolved for: the declared environment that asked for it, and an
    interpreter value with that platform's markers and tags (its executable is this machine's)."""

    environment: str  # the marker as declared
    platform: Platform
    interpreter: Interpreter


def targets(environments: Sequence[str], base: Interpreter, where: str) -> list[Target]:
    """The platforms `environments` describe, in declared order, each once.

    A marker that names only the operating system stands for its common CPUs (the `implied`
    ones); a CPU that is not implied must be named. A marker no known platform satisfies is an
    error naming it (`where` says which key declared it) and listing the platforms there are.
    """
    from packaging.markers import Marker

    if base.implementation != "cpython":
        raise ConfigError(f"{where}: a lock for several platforms is made for CPython, and this env's "
                          f"interpreter is {base.implementation} {base.version}",
                          "use a CPython interpreter for this env, or drop `environments`")
    found: list[Target] = []
    for position, text in enumerate(environments):
        marker = Marker(text)  # the config's schema has checked it
        matched = [platform for platform in KNOWN_PLATFORMS if _selects(marker, platform, base)]
        if not matched:
            known = "; ".join(f"{p.label} ({p.marker})" for p in KNOWN_PLATFORMS)
            raise ConfigError(f"{where}[{position}]: {text!r} matches none of the platforms envsync locks for "
                              f"with Python {base.short_version}",
                              f"name one of them by sys_platform and platform_machine: {known}")
        for platform in matched:
            if all(t.platform != platform for t in found):
                found.append(Target(text, platform, target_interpreter(base, platform)))
    return found


def _selects(marker: Marker, platform: Platform, base: Interpreter) -> bool:
    from envsync.resolve.markers import marker_holds

    # An `environments` entry that can't be evaluated for a platform selects nothing there.
    values = marker_values(base, platform)
    if not marker_holds(marker, values, if_unevaluable=False):
        return False
    if platform.implied:
        return True
    # Not implied: only when the marker names this CPU (any other CPU value makes it false).
    return not marker_holds(marker, {**values, "platform_machine": "?"}, if_unevaluable=True)


def marker_values(base: Interpreter, platform: Platform) -> dict[str, str]:
    """The PEP 508 marker environment of `base`'s Python minor version on `platform`.

    The lock serves every patch release of that minor version (3.12.0 as well as the 3.12.8
    that made it), so the full version is its first: a dependency only old patch releases
    need is kept, and a file whose Requires-Python needs a later patch release is not chosen.
    """
    first = f"{base.version.major}.{base.version.minor}.0"
    return {**base.markers, "os_name": platform.os_name, "sys_platform": platform.sys_platform,
            "platform_system": platform.system, "platform_machine": platform.machine,
            "platform_release": "", "platform_version": "", "python_full_version": first,
            "implementation_version": first}


def target_interpreter(base: Interpreter, platform: Platform) -> Interpreter:
    """`base` as it would be on `platform`: its markers and the wheel tags CPython accepts there."""
    from envsync.pythons.wheel_tags import wheel_tags

    version = (base.version.major, base.version.minor)
    nodot = f"{version[0]}{version[1]}"
    tags = wheel_tags("cpython", version, nodot, [f"cp{nodot}"], platform.platform_tags())
    return replace(base, markers=marker_values(base, platform), tags=tuple(tags))


def platform_of(interpreter: Interpreter) -> Platform | None:
    """The known platform `interpreter` runs on, or None for one envsync does not lock for."""
    markers = interpreter.markers
    for platform in KNOWN_PLATFORMS:
        if markers.get("sys_platform") == platform.sys_platform and markers.get("platform_machine") == platform.machine:
            return platform
    return None


def labels_of(markers: Sequence[object]) -> tuple[str, ...]:
    """For people, the platforms a lock records by marker ("macOS arm64"); a marker envsync did not
    write is shown as it is."""
    from packaging.markers import Marker

    known = {str(Marker(platform.marker)): platform.label for platform in KNOWN_PLATFORMS}
    return tuple(known.get(str(marker), str(marker)) for marker in markers)
