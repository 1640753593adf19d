"""An index that lies, breaks or misdirects: envsync ignores what it must and fails clearly otherwise.

Covered: files listed under the wrong project, https->http redirects, credentials that
must reach only their own index (and never a log, a lock or the cache), malformed PEP 691
documents, garbage HTML, links to local files and file names that try to leave the cache.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from helpers import client_for, installed, run_envsync, write_config
from localindex import JSON_TYPE, LocalIndex, sha256_hex
from packaging.utils import canonicalize_name
from wheelfactory import WheelSpec, make_wheel

from envsync.errors import IndexUnavailable, InsecureRedirect
from envsync.files.cache import cache_dir
from envsync.model import Artifact

USER, SECRET = "alice", "s3cret-token"
LIB = canonicalize_name("lib")
LIB_WHEEL = "lib-1.0-py3-none-any.whl"




def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://{USER}:{SECRET}@")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def authorizations(index: LocalIndex) -> dict[str, str | None]:
    """Request path -> the Authorization header it carried (None when it had none)."""
    return {path: headers.get("authorization") for path, headers in index.request_headers}


def files_containing(folder: Path, needles: list[bytes]) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]


# -- files under the wrong project -----------------------------------------------------------


def test_a_file_of_another_project_is_ignored(index: LocalIndex, clients, tmp_path: Path):
    index.add(WheelSpec("alpha", "1.0"))
    index.add_file("alpha", make_wheel(tmp_path / "w", WheelSpec("beta", "9.0")))
    names = [a.filename for a in client_for(clients, index.url).artifacts(canonicalize_name("alpha"))]
    assert names == ["alpha-1.0-py3-none-any.whl"]


def test_apply_installs_only_the_project_asked_for(index: LocalIndex, tmp_path: Path):
    """A page for `alpha` that also lists `alpha_tools` and `beta` files: only alpha's are candidates."""
    index.add(WheelSpec("alpha", "1.0"))
    index.add_file("alpha", make_wheel(tmp_path / "w", WheelSpec("alpha", "5.0", requires=["beta"])).rename(
        tmp_path / "w" / "beta-5.0-py3-none-any.whl"))
    index.add_file("alpha", make_wheel(tmp_path / "w", WheelSpec("alpha-tools", "7.0")))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["alpha"]\n')
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "e") == {"alpha": "1.0"}


# -- redirects ------------------------------------------------------------------------------------


def _redirecting(target: str) -> httpx.MockTransport:
    """An index whose project pages redirect to `target`; anything else is an empty JSON page."""
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/simple/lib/" and str(request.url) != target:
            return httpx.Response(301, headers={"Location": target})
        return httpx.Response(200, headers={"Content-Type": JSON_TYPE}, content=b'{"files": []}')
    return httpx.MockTransport(handle)


def test_an_https_index_may_not_redirect_to_http(clients):
    client = client_for(clients, "https://index.test/simple", _redirecting("http://index.test/simple/lib/"))
    with pytest.raises(InsecureRedirect) as caught:
        client.artifacts(LIB)
    assert "https://index.test/simple/lib/" in str(caught.value) and "plain http" in str(caught.value)


def test_redirects_that_keep_https_or_upgrade_are_followed(clients):
    assert client_for(clients, "https://index.test/simple",
                      _redirecting("https://mirror.test/simple/lib/")).artifacts(LIB) == []
    assert client_for(clients, "http://index.test/simple",
                      _redirecting("https://index.test/simple/lib/")).artifacts(LIB) == []


def test_a_refused_redirect_hides_credentials(clients):
    url = f"https://{USER}:{SECRET}@index.test/simple"
    client = client_for(clients, url, _redirecting("http://index.test/simple/lib/"))
    with pytest.raises(InsecureRedirect) as caught:
        client.artifacts(LIB)
    assert SECRET not in str(caught.value)


# -- credentials --------------------------------------------------------------------------------


def test_credentials_go_to_their_own_index_for_pages_metadata_and_files(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    client = client_for(clients, with_credentials(index.url))
    (artifact,) = client.artifacts(LIB)
    assert SECRET not in artifact.url and USER not in artifact.url
    client.metadata(artifact)
    client.download(artifact)
    seen = authorizations(index)
    assert set(seen) == {"/simple/lib/", f"/files/{LIB_WHEEL}.metadata", f"/files/{LIB_WHEEL}"}
    assert set(seen.values()) == {basic(USER, SECRET)}


def test_credentials_never_follow_a_file_to_another_host(index: LocalIndex, tmp_path: Path, clients):
    with LocalIndex(tmp_path / "files-host", metadata=False) as files_host:
        wheel = make_wheel(tmp_path / "w", WheelSpec("lib", "1.0"))
        index.add_file("lib", wheel)
        files_host.add_file("lib", wheel)
        index.files_base = files_host.base_url  # the index links its files on the other server
        client = client_for(clients, with_credentials(index.url))
        (artifact,) = client.artifacts(LIB)
        assert artifact.url.startswith(files_host.base_url)
        client.download(artifact)
        assert authorizations(index) == {"/simple/lib/": basic(USER, SECRET)}
        assert authorizations(files_host) == {f"/files/{LIB_WHEEL}": None}


def test_credentials_are_not_printed_locked_or_cached(index: LocalIndex, tmp_path: Path):
    with LocalIndex(tmp_path / "files-host") as files_host:
        for spec in (WheelSpec("lib", "1.0", requires=["dep"]), WheelSpec("dep", "2.0")):
            wheel = make_wheel(tmp_path / "w", spec)
            index.add_file(spec.name, wheel)
            files_host.add_file(spec.name, wheel)
        index.files_base = files_host.base_url
        project = tmp_path / "project"
        write_config(project, f'[settings]\nindex-url = "{with_credentials(index.url)}"\n'
                              '[envs.e]\ndependencies = ["lib"]\n')
        index.fail_with, index.fail_count = 503, 1  # a retried request must not leak either
        result = run_envsync("apply", "-v", cwd=project)
        assert result.returncode == 0, result.stderr
        assert installed(project / ".envs" / "e") == {"lib": "1.0", "dep": "2.0"}
        needles = [SECRET.encode(), basic(USER, SECRET).split()[1].encode()]
        assert SECRET not in result.stdout + result.stderr
        assert files_containing(project, needles) == [project / "envs.toml"]  # where the user wrote it
        assert files_containing(cache_dir(), needles) == []
        assert set(authorizations(index).values()) == {basic(USER, SECRET)}
        assert set(authorizations(files_host).values()) == {None}
        assert any(path.startswith("/files/") for path in files_host.requests)


def test_credentials_from_the_environment_are_not_cached(index: LocalIndex, tmp_path: Path):
    index.add(WheelSpec("lib", "1.0"))
    project = tmp_path / "project"
    write_config(project, '[envs.e]\ndependencies = ["lib"]\n')
    result = run_envsync("apply", cwd=project, env={"ENVSYNC_INDEX_URL": with_credentials(index.url)})
    assert result.returncode == 0, result.stderr
    assert files_containing(project, [SECRET.encode()]) == []
    assert files_containing(cache_dir(), [SECRET.encode()]) == []


# -- malformed PEP 691 documents ---------------------------------------------------------------

ENTRY = {"filename": LIB_WHEEL, "url": f"../../files/{LIB_WHEEL}"}
MALFORMED = {
    "not json": b"{'files': [",
    "not utf-8": b'{"files": [], "x": "\xff\xfe"}',
    "a list": b"[1, 2, 3]",
    "files is a string": json.dumps({"files": "lib.whl"}).encode(),
    "an entry is a string": json.dumps({"files": [LIB_WHEEL]}).encode(),
    "filename is a number": json.dumps({"files": [{**ENTRY, "filename": 5}]}).encode(),
    "no url": json.dumps({"files": [{"filename": LIB_WHEEL}]}).encode(),
    "hashes is a list": json.dumps({"files": [{**ENTRY, "hashes": ["abc"]}]}).encode(),
    "sha256 is a number": json.dumps({"files": [{**ENTRY, "hashes": {"sha256": 12}}]}).encode(),
    "size is a string": json.dumps({"files": [{**ENTRY, "size": "big"}]}).encode(),
    "size is negative": json.dumps({"files": [{**ENTRY, "size": -1}]}).encode(),
    "size is a bool": json.dumps({"files": [{**ENTRY, "size": True}]}).encode(),
    "yanked is a number": json.dumps({"files": [{**ENTRY, "yanked": 3}]}).encode(),
    "requires-python is a list": json.dumps({"files": [{**ENTRY, "requires-python": [">=3"]}]}).encode(),
    "nested too deeply": b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_json_page_is_a_clear_error(index: LocalIndex, clients, body: bytes):
    index.raw_pages["lib"] = (body, JSON_TYPE)
    with pytest.raises(IndexUnavailable) as caught:
        client_for(clients, index.url).artifacts(LIB)
    assert f"index {index.url} sent an invalid page for lib" in str(caught.value)


def test_a_malformed_json_page_ends_the_cli_without_a_traceback(index: LocalIndex, tmp_path: Path):
    index.raw_pages["lib"] = (MALFORMED["files is a string"], JSON_TYPE)
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{with_credentials(index.url)}"\n'
                          '[envs.e]\ndependencies = ["lib"]\n')
    result = run_envsync("plan", cwd=project)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "invalid page for lib" in result.stderr and f"127.0.0.1:{index.port}" in result.stderr
    assert SECRET not in result.stderr


def test_a_malformed_static_json_index_is_a_clear_error(tmp_path: Path, clients):
    (tmp_path / "static" / "lib").mkdir(parents=True)
    (tmp_path / "static" / "lib" / "index.json").write_text('{"files": {"oops": 1}}')
    with pytest.raises(IndexUnavailable, match="invalid page for lib"):
        client_for(clients, (tmp_path / "static").as_uri()).artifacts(LIB)


# -- garbage HTML ----------------------------------------------------------------------------------


def test_garbage_html_is_tolerated_and_good_links_still_count(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    digest = index.files("lib")[0].sha256
    garbage = (
        b"\x00\xff\xfe<<<>>><html><body <a href=<a>"
        b"<base href='http://[broken'>"
        b"<a>no href</a><a href=''>empty</a><a href='http://[::1'>bad ipv6</a>"
        b"<a href='javascript:alert(1)'>js</a><a href='mailto:x@y'>mail</a>"
        b"<a href='lib-1.0.tar.gz#md5=abc' data-requires-python='&gt;=nonsense'>odd</a>"
        b"<a href='../../files/" + LIB_WHEEL.encode() + b"#sha256=" + digest.encode() + b"'>good</a>"
        b"<a href='../../files/lib-2.0-py3-none-any.whl#sha256=' data-core-metadata='{bad'>"
        b"<script>document.write('<a href=x>')</script><!-- <a href='y.whl'> --><a href='/../../../..//'>"
        b"<p><table><tr><td>unclosed"
    )
    index.raw_pages["lib"] = (garbage, "text/html; charset=utf-8")
    found = client_for(clients, index.url).artifacts(LIB)
    by_name = {a.filename: a for a in found}
    assert by_name[LIB_WHEEL].sha256 == digest
    assert by_name["lib-2.0-py3-none-any.whl"].sha256 is None  # an empty hash is no hash
    assert set(by_name) <= {LIB_WHEEL, "lib-2.0-py3-none-any.whl", "lib-1.0.tar.gz"}


def test_a_remote_page_may_not_point_at_local_files(index: LocalIndex, clients, tmp_path: Path):
    """A file:// link from an http index would make envsync read (and install) a file it chose."""
    local = make_wheel(tmp_path / "local", WheelSpec("lib", "2.0"))
    index.add(WheelSpec("lib", "1.0"))
    remote = index.files("lib")[0]
    entries = [
        {"filename": local.name, "url": local.as_uri(), "hashes": {"sha256": sha256_hex(local.read_bytes())}},
        {"filename": LIB_WHEEL, "url": f"../../files/{LIB_WHEEL}", "hashes": {"sha256": remote.sha256}},
    ]
    index.raw_pages["lib"] = (json.dumps({"files": entries}).encode(), JSON_TYPE)
    found = client_for(clients, index.url).artifacts(LIB)
    assert [a.filename for a in found] == [LIB_WHEEL]


def test_file_names_that_leave_the_cache_are_refused(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    real = index.files("lib")[0]
    client = client_for(clients, index.url)
    for name in ("../../../escaped.whl", "sub/dir.whl", ".hidden.whl", "back\\slash.whl"):
        artifact = Artifact(filename=name, url=index.file_url(LIB_WHEEL), sha256=real.sha256, size=real.size)
        with pytest.raises(IndexUnavailable, match="refused to download"):
            client.download(artifact)
    assert not list(cache_dir().parent.rglob("escaped.whl"))
    assert index.requests == []


def test_unsafe_names_on_a_page_are_skipped(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    real = index.files("lib")[0]
    entries = [{"filename": name, "url": f"../../files/{LIB_WHEEL}", "hashes": {"sha256": real.sha256}}
               for name in ("../lib-1.0-py3-none-any.whl", ".lib-1.0-py3-none-any.whl", LIB_WHEEL)]
    index.raw_pages["lib"] = (json.dumps({"files": entries}).encode(), JSON_TYPE)
    assert [a.filename for a in client_for(clients, index.url).artifacts(LIB)] == [LIB_WHEEL]


# -- metadata that parses but can't be evaluated ---------------------------------------------


def test_a_dependency_marker_that_cannot_be_evaluated_is_skipped(index: LocalIndex, tmp_path: Path):
    """`platform_release ~= 'x'` parses, but comparing a kernel release with ~= raises in packaging."""
    index.add(WheelSpec("lib", "1.0", requires=["dep; platform_release ~= 'x'"]))
    index.add(WheelSpec("dep", "1.0"))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib"]\n')
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert installed(project / ".envs" / "e") == {"lib": "1.0"}


def test_a_root_marker_that_cannot_be_evaluated_is_a_clear_error(index: LocalIndex, tmp_path: Path):
    index.add(WheelSpec("lib", "1.0"))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n'
                          '[envs.e]\ndependencies = ["lib; platform_release ~= \'x\'"]\n')
    result = run_envsync("plan", cwd=project)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "platform_release ~= \"x\"" in result.stderr and "can't be evaluated" in result.stderr


# -- hashes that try to become paths -------------------------------------------------------------

ESCAPE = "../../../escaped-by-hash"


def _escaped_paths() -> list[Path]:
    """Where a hash of ESCAPE would land if it were joined into a cache path unchecked."""
    base = cache_dir()
    return [(base / "metadata" / f"{ESCAPE}.METADATA").resolve(),
            (base / "downloads" / ESCAPE).resolve(),
            (base / "unpacked" / ESCAPE).resolve()]


def _hostile_entries(real, *, file_hash: str | None = None, metadata_hash: str | None = None) -> bytes:
    entry: dict[str, object] = {"filename": LIB_WHEEL, "url": f"../../files/{LIB_WHEEL}",
                                "hashes": {"sha256": file_hash or real.sha256}}
    if metadata_hash is not None:
        entry["core-metadata"] = {"sha256": metadata_hash}
    return json.dumps({"files": [entry]}).encode()


HOSTILE_HASHES = {
    "file hash": {"file_hash": ESCAPE},
    "metadata hash": {"metadata_hash": ESCAPE},
    "file hash not hex": {"file_hash": "z" * 64},
    "file hash too short": {"file_hash": "ab" * 16},
}


@pytest.mark.parametrize("hashes", list(HOSTILE_HASHES.values()), ids=list(HOSTILE_HASHES))
def test_a_hash_that_is_not_hex_is_refused_on_a_json_page(index: LocalIndex, clients, hashes: dict):
    index.add(WheelSpec("lib", "1.0"))
    index.raw_pages["lib"] = (_hostile_entries(index.files("lib")[0], **hashes), JSON_TYPE)
    with pytest.raises(IndexUnavailable) as caught:
        client_for(clients, index.url).artifacts(LIB)
    message = str(caught.value)
    assert f"index {index.url} sent an invalid page for lib" in message
    assert LIB_WHEEL in message and "64 hex digits" in message


@pytest.mark.parametrize("attribute", ["href", "data-core-metadata"])
def test_a_hash_that_is_not_hex_is_refused_on_an_html_page(index: LocalIndex, clients, attribute: str):
    index.add(WheelSpec("lib", "1.0"))
    real = index.files("lib")[0]
    file_hash = ESCAPE if attribute == "href" else real.sha256
    metadata = f"sha256={ESCAPE}" if attribute != "href" else "true"
    page = (f"<a href='../../files/{LIB_WHEEL}#sha256={file_hash}' data-core-metadata='{metadata}'>"
            f"{LIB_WHEEL}</a>").encode()
    index.raw_pages["lib"] = (page, "text/html")
    with pytest.raises(IndexUnavailable) as caught:
        client_for(clients, index.url).artifacts(LIB)
    assert f"index {index.url} sent an invalid page for lib" in str(caught.value)
    assert LIB_WHEEL in str(caught.value)


def test_upper_case_hex_is_a_valid_hash(index: LocalIndex, clients):
    index.add(WheelSpec("lib", "1.0"))
    real = index.files("lib")[0]
    index.raw_pages["lib"] = (_hostile_entries(real, file_hash=real.sha256.upper()), JSON_TYPE)
    client = client_for(clients, index.url)
    (artifact,) = client.artifacts(LIB)
    assert artifact.sha256 == real.sha256
    assert client.download(artifact).read_bytes() == real.path.read_bytes()


@pytest.mark.parametrize("hashes", [{"file_hash": ESCAPE}, {"metadata_hash": ESCAPE}], ids=["file", "metadata"])
def test_an_index_serving_a_path_as_hash_writes_nothing_outside_the_cache(
        index: LocalIndex, tmp_path: Path, hashes: dict):
    index.add(WheelSpec("lib", "1.0"))
    index.raw_pages["lib"] = (_hostile_entries(index.files("lib")[0], **hashes), JSON_TYPE)
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.e]\ndependencies = ["lib"]\n')
    try:
        result = run_envsync("apply", cwd=project)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        assert f"127.0.0.1:{index.port}" in result.stderr and LIB_WHEEL in result.stderr
        assert "64 hex digits" in result.stderr
        assert [p for p in _escaped_paths() if p.exists()] == []
        assert not (project / ".envs" / "e").exists() or installed(project / ".envs" / "e") == {}
    finally:
        for leaked in _escaped_paths():  # don't leave a failed run's litter beside the test folders
            if leaked.is_file():
                leaked.unlink()


def test_an_artifact_built_with_a_path_as_hash_is_never_fetched(index: LocalIndex, clients):
    """The last line of defence: download and metadata refuse a hash that is no digest."""
    index.add(WheelSpec("lib", "1.0"))
    real = index.files("lib")[0]
    client = client_for(clients, index.url)
    for artifact in (Artifact(filename=LIB_WHEEL, url=index.file_url(LIB_WHEEL), sha256=ESCAPE),
                     Artifact(filename=LIB_WHEEL, url=index.file_url(LIB_WHEEL), sha256=real.sha256,
                              has_metadata_file=True, metadata_sha256=ESCAPE)):
        with pytest.raises(IndexUnavailable, match="not 64 hex digits"):
            client.download(artifact)
        with pytest.raises(IndexUnavailable, match="not 64 hex digits"):
            client.metadata(artifact)
    assert index.requests == []
    assert [p for p in _escaped_paths() if p.exists()] == []
