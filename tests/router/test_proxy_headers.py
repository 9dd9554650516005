"""What the pass-through tells Orthanc about the client (router/proxy.py), header by header; the
tests over real HTTP are in test_proxy_http.py and test_dicomweb_client.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from router.config import Config, SettingError
from router.proxy import Proxy


@dataclass
class Transport:
    """The two addresses a request's connection has: the client's and the one it reached."""

    peer: tuple[str, int]
    local: tuple[str, int]

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": self.peer, "sockname": self.local}.get(name, default)

    def is_closing(self) -> bool:
        return False


def _sent(proxy: Proxy, headers: dict[str, str], peer: str = "192.0.2.7") -> CIMultiDict[str]:
    request = make_mocked_request(
        "GET",
        "/dicom-web/studies",
        headers=headers,
        transport=Transport((peer, 50000), ("127.0.0.1", 8080)),
    )
    return proxy.request_headers(request)


ORTHANC = "http://127.0.0.1:8042"


def test_each_request_says_its_own_host() -> None:
    sent = _sent(Proxy(ORTHANC, 5), {"Host": "images.example:8080"})
    assert sent.getall("Forwarded") == ["for=192.0.2.7;proto=http;host=images.example:8080"]
    assert sent.getall("X-Forwarded-Host") == ["images.example:8080"]
    assert sent.getall("X-Forwarded-Proto") == ["http"]
    assert sent.getall("X-Forwarded-For") == ["192.0.2.7"]


@pytest.mark.parametrize("host", ["", 'evil"', "a,host=evil", "a;proto=https", "a b"])
def test_a_host_that_cannot_go_unquoted_gives_the_address_reached(host: str) -> None:
    sent = _sent(Proxy(ORTHANC, 5), {"Host": host} if host else {})
    assert sent.getall("Forwarded") == ["for=192.0.2.7;proto=http;host=127.0.0.1:8080"]


def test_public_url_decides_scheme_and_host() -> None:
    """Behind a TLS proxy, or for clients that send Host without the port (dicomweb-client)."""
    proxy = Proxy(ORTHANC, 5, public_url="https://images.example:8443/")
    claims = {"Host": "127.0.0.1", "Forwarded": "host=evil", "X-Forwarded-Proto": "http"}
    sent = _sent(proxy, claims)
    assert sent.getall("Forwarded") == ["for=192.0.2.7;proto=https;host=images.example:8443"]
    assert sent.getall("X-Forwarded-Host") == ["images.example:8443"]
    assert sent.getall("X-Forwarded-Proto") == ["https"]
    default_port = Proxy(ORTHANC, 5, public_url="https://images.example")
    assert _sent(default_port, {})["X-Forwarded-Host"] == "images.example"


def test_ipv6_client_is_quoted() -> None:
    """RFC 7239 6: an IPv6 node in brackets and quotes."""
    sent = _sent(Proxy(ORTHANC, 5), {"Host": "[::1]:8080"}, peer="2001:db8::1")
    assert sent["Forwarded"] == 'for="[2001:db8::1]";proto=http;host=[::1]:8080'


def test_public_url_takes_no_path() -> None:
    """Orthanc's plugin puts its own root after the host: a path could not reach its URLs."""
    with pytest.raises(SettingError, match="no path"):
        Config(orthanc_url=ORTHANC, public_url="https://images.example/pacs")
    assert Config(orthanc_url=ORTHANC, public_url="https://images.example/").public_url
