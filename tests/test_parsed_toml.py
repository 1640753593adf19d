"""A lock is parsed once: its parsed TOML is kept in the cache under the digest of its text, read
back while the text is the same, never kept when it holds a date or a secret, and pruned with
`envsync cache prune` once no lock has that text any more."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
from helpers import run_envsync, write_config
from localindex import LocalIndex
from packaging.version import Version
from wheelfactory import WheelSpec

from envsync.errors import LockError
from envsync.files.parsed_toml import entry_name, load_toml
from envsync.resolve.lockfile import lock_from_text

SHA = "a" * 64
LOCK = f"""lock-version = "1.0"
created-by = "hand"

[[packages]]
name = "lib"
version = "1.0"

[[packages.wheels]]
name = "lib-1.0-py3-none-any.whl"
url = "https://files.example.org/lib-1.0-py3-none-any.whl"
hashes = {{ sha256 = "{SHA}" }}
"""


def kept() -> Path:
    return Path(os.environ["ENVSYNC_CACHE_DIR"]) / "parsed-toml"


def test_a_lock_read_twice_is_parsed_once(tmp_path: Path):
    first = lock_from_text(tmp_path / "pylock.dev.toml", LOCK)
    entry = kept() / entry_name(LOCK)
    assert entry.is_file()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600 and stat.S_IMODE(kept().stat().st_mode) == 0o700
    # The second read takes the kept form: changed behind the lock's back, it shows.
    entry.write_text(entry.read_text().replace('"created-by":"hand"', '"created-by":"the cache"'))
    os.chmod(entry, 0o600)
    again = lock_from_text(tmp_path / "pylock.dev.toml", LOCK)
    assert (first.document.created_by, again.document.created_by) == ("hand", "the cache")  # the entry was read
    assert load_toml(LOCK + "\n") == tomllib.loads(LOCK)  # another text: parsed, kept under its own name
    assert (kept() / entry_name(LOCK + "\n")).is_file()


def test_an_entry_others_could_write_is_not_trusted(tmp_path: Path):
    lock_from_text(tmp_path / "pylock.dev.toml", LOCK)
    entry = kept() / entry_name(LOCK)
    entry.write_text('{"lock-version": "9.9"}')
    os.chmod(entry, 0o666)
    assert lock_from_text(tmp_path / "pylock.dev.toml", LOCK).document.lock_version == Version("1.0")


def test_a_broken_entry_is_parsed_again(tmp_path: Path):
    lock_from_text(tmp_path / "pylock.dev.toml", LOCK)
    entry = kept() / entry_name(LOCK)
    entry.write_text("{not json")
    os.chmod(entry, 0o600)
    assert [str(v) for v in lock_from_text(tmp_path / "pylock.dev.toml", LOCK).versions().values()] == ["1.0"]


def test_a_lock_with_upload_times_is_read_and_not_kept(tmp_path: Path):
    """JSON has no dates: other tools' locks, which record upload times, are parsed every time."""
    text = LOCK.replace("hashes =", "upload-time = 2024-05-01T10:00:00Z\nhashes =")
    lock = lock_from_text(tmp_path / "pylock.dev.toml", text)
    assert lock.document.packages[0].wheels[0].upload_time.year == 2024
    assert not (kept() / entry_name(text)).exists()


def test_a_lock_with_credentials_never_reaches_the_cache(tmp_path: Path):
    text = LOCK.replace("https://files.example.org", "https://user:s3cret@files.example.org")
    lock_from_text(tmp_path / "pylock.dev.toml", text)
    assert not (kept() / entry_name(text)).exists()
    assert "s3cret" not in "".join(p.read_text() for p in kept().iterdir()) if kept().is_dir() else True


@pytest.mark.parametrize(("text", "says"), [
    ("lock-version = \n", "Invalid value"),
    ('lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = 3\n', "packages[0].name"),
])
def test_an_invalid_lock_is_refused_every_time(tmp_path: Path, text: str, says: str):
    """Invalid TOML is never kept; valid TOML that is no valid lock is checked again on every read."""
    for _ in range(2):
        with pytest.raises(LockError) as refused:
            lock_from_text(tmp_path / "pylock.dev.toml", text)
        assert "pylock.dev.toml: not a valid PEP 751 lock file" in refused.value.message
        assert says in refused.value.message
    assert (kept() / entry_name(text)).exists() == text.startswith('lock-version = "1.0"')


def test_without_a_writable_cache_a_lock_is_still_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("ENVSYNC_CACHE_DIR", str(blocked))
    assert [str(v) for v in lock_from_text(tmp_path / "pylock.dev.toml", LOCK).versions().values()] == ["1.0"]


def test_apply_reads_kept_locks_and_prune_drops_the_old_ones(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("lib", "2.0"))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["lib==1.0"]\n')
    assert run_envsync("apply", cwd=project).returncode == 0
    text = (project / "pylock.dev.toml").read_text()
    old = entry_name(text)  # kept as it was written: the next read needs no parser
    assert json.loads((kept() / old).read_text()) == tomllib.loads(text)

    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["lib==2.0"]\n')
    applied = run_envsync("apply", cwd=project)
    assert applied.returncode == 0 and "lib 1.0 -> 2.0" in applied.stdout, applied.stdout + applied.stderr
    new = entry_name((project / "pylock.dev.toml").read_text())
    assert {old, new} <= {path.name for path in kept().iterdir()}

    assert run_envsync("cache", "prune", cwd=project).returncode == 0
    assert {path.name for path in kept().iterdir()} == {new}
    assert run_envsync("plan", "--refresh", "--detailed-exitcode", cwd=project).returncode == 0
