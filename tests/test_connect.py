"""Connections to the index: each host name looked up once per run, shared by every thread.

A cold lock opens many connections at once; when each asked DNS for itself, a resolver that
drops part of a burst stalled the run in 5-second steps (issue 33). These tests use the real
local index and real sockets; only the name lookup is counted.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.errors import ConfigError
from envsync.resolve import connect
from envsync.resolve.http import make_client


class CountingLookup:
    """The system's lookup, counted, and slow enough that concurrent callers overlap."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        with self._lock:
            self.calls.append(host)
        time.sleep(0.05)
        return connect.system_lookup(host, port)


def test_sixteen_threads_fetching_at_once_look_the_host_up_once(index: LocalIndex, monkeypatch: pytest.MonkeyPatch):
    index.add(WheelSpec("lib", "1.0"))
    lookup = CountingLookup()
    monkeypatch.setattr(connect, "_ADDRESSES", connect.HostAddresses(lookup))
    url = f"http://localhost:{index.port}/simple/lib/"
    with make_client() as client, ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: client.get(url).status_code, range(16)))
    assert statuses == [200] * 16
    assert lookup.calls == ["localhost"], "every connection but the first must reuse the first lookup"
    assert len([path for path in index.requests if path == "/simple/lib/"]) == 16


def test_a_failed_lookup_is_not_kept(monkeypatch: pytest.MonkeyPatch):
    answers = iter([OSError("temporary failure in name resolution"), ["127.0.0.1"]])

    def flaky(host: str, port: int) -> list[str]:
        answer = next(answers)
        if isinstance(answer, OSError):
            raise answer
        return answer

    addresses = connect.HostAddresses(flaky)
    with pytest.raises(OSError):
        addresses.of("index.example", 443)
    assert addresses.of("index.example", 443) == ["127.0.0.1"]
    assert addresses.of("index.example", 443) == ["127.0.0.1"]  # now kept: no third lookup


def test_an_answer_is_asked_for_again_after_a_few_minutes():
    now = [0.0]
    asked: list[str] = []

    def lookup(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    addresses = connect.HostAddresses(lookup, keep=300.0, clock=lambda: now[0])
    addresses.of("index.example", 443)
    now[0] = 299.0
    addresses.of("index.example", 443)
    assert asked == ["index.example"]
    now[0] = 301.0  # envsync watch runs for hours: a host that moved is found again
    addresses.of("index.example", 443)
    assert asked == ["index.example", "index.example"]


def test_a_host_that_does_not_resolve_is_a_connect_error_with_its_name(monkeypatch: pytest.MonkeyPatch):
    def nowhere(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    monkeypatch.setattr(connect, "_ADDRESSES", connect.HostAddresses(nowhere))
    with make_client() as client, pytest.raises(httpx.ConnectError, match="no-such-index.invalid"):
        client.get("http://no-such-index.invalid/simple/")


def test_unreachable_first_address_falls_back_to_the_next(index: LocalIndex, monkeypatch: pytest.MonkeyPatch):
    index.add(WheelSpec("lib", "1.0"))
    # The index listens on 127.0.0.1 only: 127.0.0.2 (loopback too) refuses its port.
    monkeypatch.setattr(connect, "_ADDRESSES", connect.HostAddresses(lambda host, port: ["127.0.0.2", "127.0.0.1"]))
    with make_client() as client:
        assert client.get(f"http://index.test:{index.port}/simple/lib/").status_code == 200


def test_with_a_proxy_configured_httpx_keeps_its_own_transport(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert connect.shared_lookup_transport(httpx.Limits(), connect.new_tls_context()) is None
    monkeypatch.delenv("HTTPS_PROXY")
    for name in ("HTTP_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert connect.shared_lookup_transport(httpx.Limits(), connect.new_tls_context()) is not None


def test_a_lock_through_a_host_name_works_end_to_end(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    index.add(WheelSpec("app", "1.0", requires=["lib"]))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "http://localhost:{index.port}/simple"\n'
                          '[envs.e]\ndependencies = ["app"]\n')
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert 'name = "lib"' in (project / "pylock.e.toml").read_text()


def _one_certificate(tmp_path: Path) -> Path:
    import certifi

    bundle = Path(certifi.where()).read_text()
    end = "-----END CERTIFICATE-----"
    first = bundle[bundle.index("-----BEGIN CERTIFICATE-----"):bundle.index(end) + len(end)]
    (tmp_path / "one.pem").write_text(first + "\n")
    return tmp_path / "one.pem"


def test_a_tls_context_made_ahead_trusts_what_httpx_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The context is made in a thread while locks are read; it must read the same CA certificates
    httpx.create_ssl_context(trust_env=True) reads, and be used by one client only."""
    monkeypatch.setattr(connect, "_TLS_AHEAD", connect._TlsAhead())  # this run's first client
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(_one_certificate(tmp_path)))
    connect.prepare_tls()
    thread = connect._TLS_AHEAD._thread
    assert thread is not None and not thread.daemon  # an exit waits for it (OpenSSL crashed otherwise)
    thread.join()
    made = connect._TLS_AHEAD._made
    assert made is not None
    ahead = connect.tls_context()
    assert ahead is made
    assert ahead.get_ca_certs() == httpx.create_ssl_context(trust_env=True).get_ca_certs()
    assert len(ahead.get_ca_certs()) == 1
    monkeypatch.delenv("SSL_CERT_FILE")
    thread_before = connect._TLS_AHEAD._thread
    connect.prepare_tls()  # one ahead per run: a later client makes its own, from certifi's bundle now
    assert connect._TLS_AHEAD._thread is thread_before and connect._TLS_AHEAD._made is None
    later = connect.tls_context()
    assert later is not ahead and len(later.get_ca_certs()) > 1


def test_a_tls_context_that_fails_ahead_fails_when_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The thread keeps quiet about a bad CA file: the client made next reports it, as without the thread."""
    monkeypatch.setattr(connect, "_TLS_AHEAD", connect._TlsAhead())
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    connect.prepare_tls()
    with pytest.raises(ConfigError, match="SSL_CERT_FILE=.*missing.pem can't be read"):
        connect.tls_context()


def test_a_lock_with_an_unreadable_ca_file_names_the_variable(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("lib", "1.0"))
    write_config(tmp_path, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = ["lib"]\n')
    result = run_envsync("lock", cwd=tmp_path, env={"SSL_CERT_FILE": str(tmp_path / "missing.pem")})
    assert result.returncode == 1
    assert "SSL_CERT_FILE=" in result.stderr and "missing.pem" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "pylock.dev.toml").exists()
