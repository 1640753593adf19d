"""Tests of the local index fixture itself: what it serves is what real indexes serve."""

from __future__ import annotations

import hashlib
import socket
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin
from urllib.request import url2pathname

import httpx
import pytest
from helpers import installed, make_venv, python_path, write_config
from localindex import JSON_TYPE, LocalIndex
from wheelfactory import WheelSpec, make_wheel, read_metadata

JSON_ACCEPT = f"{JSON_TYPE}, text/html;q=0.01"


class _Anchors(HTMLParser):
    """Collects each <a> as (attributes, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def anchors(page: str) -> list[dict[str, str | None]]:
    parser = _Anchors()
    parser.feed(page)
    return parser.anchors


def get(url: str, accept: str | None = None) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    return httpx.get(url, headers=headers, follow_redirects=True, timeout=10)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_json_and_html_are_negotiated(index: LocalIndex) -> None:
    index.add(WheelSpec("alpha", "1.0", requires_python=">=3.8"))
    as_json = get(f"{index.url}/alpha/", JSON_ACCEPT)
    assert as_json.headers["content-type"] == JSON_TYPE
    doc = as_json.json()
    assert doc["meta"]["api-version"] == "1.1"
    assert doc["name"] == "alpha" and doc["versions"] == ["1.0"]
    [file] = doc["files"]
    assert file["filename"] == "alpha-1.0-py3-none-any.whl"
    assert file["requires-python"] == ">=3.8" and file["yanked"] is False
    as_html = get(f"{index.url}/alpha/", "text/html")
    assert as_html.headers["content-type"].startswith("text/html")
    [link] = anchors(as_html.text)
    assert link["data-requires-python"] == ">=3.8"
    assert "&gt;=3.8" in as_html.text


def test_html_mode_ignores_accept(html_index: LocalIndex) -> None:
    html_index.add(WheelSpec("alpha", "1.0"))
    response = get(f"{html_index.url}/alpha/", JSON_ACCEPT)
    assert response.headers["content-type"].startswith("text/html")
    assert "data-core-metadata" not in response.text


def test_root_listing_in_both_forms(index: LocalIndex) -> None:
    index.add(WheelSpec("Foo_Bar", "1.0"))
    index.add(WheelSpec("alpha", "2.0"))
    assert get(f"{index.url}/", JSON_ACCEPT).json()["projects"] == [{"name": "alpha"}, {"name": "foo-bar"}]
    hrefs = [a["href"] for a in anchors(get(f"{index.url}/").text)]
    assert hrefs == ["alpha/", "foo-bar/"]


@pytest.mark.parametrize("wrong_hash", [False, True])
def test_relative_urls_resolve_to_files_with_advertised_hash(index: LocalIndex, wrong_hash: bool) -> None:
    index.add(WheelSpec("alpha", "1.0+local"), wrong_hash=wrong_hash)
    page_url = f"{index.url}/alpha/"
    [file] = get(page_url, JSON_ACCEPT).json()["files"]
    assert file["url"].startswith("../../files/")
    body = get(urljoin(page_url, file["url"])).content
    assert len(body) == file["size"]
    assert (sha256(body) == file["hashes"]["sha256"]) is not wrong_hash
    [link] = anchors(get(page_url).text)
    href, _, fragment = (link["href"] or "").partition("#")
    assert fragment == f"sha256={file['hashes']['sha256']}"
    assert get(urljoin(page_url, href)).content == body


def test_metadata_files_follow_the_toggle(index: LocalIndex) -> None:
    wheel = index.add(WheelSpec("alpha", "1.0", requires=["beta>=2"]))
    page_url = f"{index.url}/alpha/"
    [file] = get(page_url, JSON_ACCEPT).json()["files"]
    metadata = get(urljoin(page_url, file["url"]) + ".metadata")
    assert metadata.content == read_metadata(wheel)
    assert file["core-metadata"] == {"sha256": sha256(metadata.content)}
    [link] = anchors(get(page_url).text)
    assert link["data-core-metadata"] == link["data-dist-info-metadata"] == f"sha256={sha256(metadata.content)}"

    index.metadata = False
    [file] = get(page_url, JSON_ACCEPT).json()["files"]
    assert "core-metadata" not in file
    assert "data-core-metadata" not in anchors(get(page_url).text)[0]
    assert get(urljoin(page_url, file["url"]) + ".metadata").status_code == 404


def test_yanked_in_both_forms(index: LocalIndex) -> None:
    index.add(WheelSpec("alpha", "1.0"), yanked=True)
    index.add(WheelSpec("alpha", "1.1"), yanked="broken build")
    index.add(WheelSpec("alpha", "1.2"))
    files = get(f"{index.url}/alpha/", JSON_ACCEPT).json()["files"]
    assert [f["yanked"] for f in files] == [True, "broken build", False]
    links = anchors(get(f"{index.url}/alpha/").text)
    assert [a.get("data-yanked", "absent") for a in links] == ["", "broken build", "absent"]


def test_non_normalised_names_redirect(index: LocalIndex) -> None:
    index.add(WheelSpec("Foo.Bar", "1.0"))
    first = httpx.get(f"{index.url}/Foo_Bar/", follow_redirects=False)
    assert first.status_code == 301 and first.headers["location"] == "/simple/foo-bar/"
    followed = get(f"{index.url}/Foo_Bar", JSON_ACCEPT)
    assert followed.status_code == 200 and followed.json()["name"] == "foo-bar"
    assert get(f"{index.url}/missing/").status_code == 404


def test_fail_with_answers_everything_then_recovers(index: LocalIndex) -> None:
    index.add(WheelSpec("alpha", "1.0"))
    index.fail_with = 503
    assert get(f"{index.url}/alpha/").status_code == 503
    assert get(index.file_url("alpha-1.0-py3-none-any.whl")).status_code == 503
    index.fail_with, index.fail_count = 500, 1
    assert get(f"{index.url}/alpha/").status_code == 500
    assert get(f"{index.url}/alpha/").status_code == 200


def test_requests_are_logged(index: LocalIndex) -> None:
    index.add(WheelSpec("alpha", "1.0"))
    assert index.requests == []
    with httpx.Client(headers={"Accept": JSON_ACCEPT}) as client:
        file = client.get(f"{index.url}/alpha/").json()["files"][0]
        client.get(urljoin(f"{index.url}/alpha/", file["url"]) + ".metadata")
    assert index.requests == ["/simple/alpha/", "/files/alpha-1.0-py3-none-any.whl.metadata"]
    assert not any(path.endswith(".whl") for path in index.requests)
    index.clear_requests()
    assert index.requests == []


def test_add_file_lists_prebuilt_files(index: LocalIndex, tmp_path: Path) -> None:
    sdist = tmp_path / "gamma-0.5.tar.gz"
    sdist.write_bytes(b"not really a tarball")
    index.add_file("Gamma", sdist, requires_python=">=3.9")
    [file] = get(f"{index.url}/gamma/", JSON_ACCEPT).json()["files"]
    assert file["filename"] == "gamma-0.5.tar.gz" and "core-metadata" not in file
    assert file["requires-python"] == ">=3.9"
    assert get(index.file_url("gamma-0.5.tar.gz")).content == b"not really a tarball"


def test_file_index_layout(index: LocalIndex, tmp_path: Path) -> None:
    wheel = index.add(WheelSpec("alpha", "1.0"), yanked="old")
    url = index.write_file_index(tmp_path / "static")
    assert url.startswith("file://") and not url.endswith("/")
    page_url = f"{url}/alpha/"
    page = Path(url2pathname(page_url.removeprefix("file://"))) / "index.html"
    [link] = anchors(page.read_text())
    assert link["data-yanked"] == "old"
    href, _, fragment = (link["href"] or "").partition("#")
    target = Path(url2pathname(urljoin(page_url, href).removeprefix("file://")))
    assert target.read_bytes() == wheel.read_bytes()
    assert fragment == f"sha256={sha256(wheel.read_bytes())}"
    assert Path(f"{target}.metadata").read_bytes() == read_metadata(wheel)
    assert anchors((tmp_path / "static" / "index.html").read_text())[0]["href"] == "alpha/"


def test_find_links_folder(index: LocalIndex, tmp_path: Path) -> None:
    index.add(WheelSpec("alpha", "1.0"))
    index.add(WheelSpec("beta", "2.0"))
    folder = index.write_find_links(tmp_path / "links")
    assert sorted(p.name for p in folder.iterdir()) == [
        "alpha-1.0-py3-none-any.whl",
        "beta-2.0-py3-none-any.whl",
    ]


def test_unreachable_url_refuses_connections() -> None:
    url = LocalIndex.unreachable_url()
    port = int(url.split(":")[2].split("/")[0])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_stop_hangs_up_on_kept_alive_clients(tmp_path: Path) -> None:
    local = LocalIndex(tmp_path / "index").start()
    local.add(WheelSpec("alpha", "1.0"))
    page_url = f"{local.url}/alpha/"
    with httpx.Client(timeout=2) as client:
        assert client.get(page_url).status_code == 200
        local.stop()
        with pytest.raises(httpx.TransportError):
            client.get(page_url)


def test_helpers_write_config_and_find_pythons(tmp_path: Path) -> None:
    path = write_config(tmp_path, """
        [envs.dev]
        dependencies = []
    """)
    assert path.read_text() == "[envs.dev]\ndependencies = []\n"
    found = python_path("3.11")
    assert found is None or "3.11" in found
    assert python_path("2.99") is None


def test_installed_reads_the_venvs_own_distributions(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    assert installed(venv) == {}
    [site_packages] = venv.glob("lib/python*/site-packages")
    with zipfile.ZipFile(make_wheel(tmp_path, WheelSpec("Foo_Bar", "1.0"))) as wheel:
        wheel.extractall(site_packages)
    assert installed(venv) == {"foo-bar": "1.0"}
