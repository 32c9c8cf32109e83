"""The pure parts of the lean HTTP/1.1 client (herald_gateway.delivery.h1_sender): URL
splitting, targets and the request bytes."""

from __future__ import annotations

import base64

import pytest

from herald_gateway.delivery.h1_sender import Target, build_request, parse_target, split_url


@pytest.mark.parametrize(
    ("url", "authority", "path"),
    [
        ("http://a.test", "http://a.test", "/"),
        ("http://a.test/", "http://a.test", "/"),
        ("https://a.test:8443/x/y?q=1&r=%2F", "https://a.test:8443", "/x/y?q=1&r=%2F"),
        ("http://a.test?q=1", "http://a.test", "/?q=1"),
        ("http://a.test/p#frag", "http://a.test", "/p"),
        ("http://a.test#frag", "http://a.test", "/"),
        ("http://[::1]:8080/p%20q?x=%C3%A9", "http://[::1]:8080", "/p%20q?x=%C3%A9"),
        ("http://u:p@a.test/p", "http://u:p@a.test", "/p"),
    ],
)
def test_split_url_keeps_path_and_query_as_written(url: str, authority: str, path: str) -> None:
    assert split_url(url) == (authority, path)


def test_split_url_refuses_a_relative_url() -> None:
    with pytest.raises(ValueError):
        split_url("/just/a/path")


@pytest.mark.parametrize(
    ("authority", "origin", "host_header", "address"),
    [
        ("http://Example.TEST", ("http", "example.test", 80), "Example.TEST", None),
        ("HTTPS://a.test", ("https", "a.test", 443), "a.test", None),
        ("http://a.test:8080", ("http", "a.test", 8080), "a.test:8080", None),
        ("http://127.0.0.1:9", ("http", "127.0.0.1", 9), "127.0.0.1:9", "127.0.0.1"),
        ("http://[::1]:9", ("http", "::1", 9), "[::1]:9", "::1"),
        ("https://[fe80::1]", ("https", "fe80::1", 443), "[fe80::1]", "fe80::1"),
        ("http://2130706433", ("http", "2130706433", 80), "2130706433", "127.0.0.1"),
    ],
)
def test_parse_target(
    authority: str, origin: tuple[str, str, int], host_header: str, address: str | None
) -> None:
    target = parse_target(authority)
    assert (target.origin, target.host_header, target.address) == (origin, host_header, address)
    assert target.authorization is None


def test_user_info_becomes_basic_credentials_and_leaves_the_host_header() -> None:
    target = parse_target("http://us%40er:p%3Aw@a.test:81")
    assert target.host_header == "a.test:81"
    assert target.authorization == "Basic " + base64.b64encode(b"us@er:p:w").decode()


@pytest.mark.parametrize(
    "authority",
    ["ftp://a.test", "http://", "http://:80", "http://a.test:0", "http://a.test:99999",
     "http://a.test:8o", "http://[::1", "http://[::1]x", "http://a b"],
)  # fmt: skip
def test_parse_target_refuses(authority: str) -> None:
    with pytest.raises(ValueError):
        parse_target(authority)


TARGET = Target(("http", "a.test", 8080), "a.test:8080", None, None)


def test_request_bytes() -> None:
    data = build_request("POST", "/p?q=1", TARGET, {"X-One": "1", "Content-Type": "t/p"}, b"body")
    assert data == (
        b"POST /p?q=1 HTTP/1.1\r\nX-One: 1\r\nContent-Type: t/p\r\nHost: a.test:8080\r\n"
        b"Content-Length: 4\r\n\r\nbody"
    )


def test_framing_headers_are_the_clients_own_and_a_given_host_is_kept() -> None:
    given = {"content-length": "99", "Transfer-Encoding": "chunked", "Connection": "close",
             "host": "other.test", "Authorization": "Bearer t"}  # fmt: skip
    target = Target(TARGET.origin, TARGET.host_header, None, "Basic eDp5")
    data = build_request("GET", "/", target, given, b"")
    assert data == (
        b"GET / HTTP/1.1\r\nhost: other.test\r\nAuthorization: Bearer t\r\n"
        b"Content-Length: 0\r\n\r\n"
    )


def test_non_ascii_header_values_are_utf8() -> None:
    data = build_request("POST", "/", TARGET, {"X-Name": "Zoë"}, b"")
    assert b"X-Name: Zo\xc3\xab\r\n" in data


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ({"X-Evil": "a\r\nInjected: 1"}, "/"),
        ({"X-Evil": "a\nInjected: 1"}, "/"),
        ({"X-Evil": "a\rb"}, "/"),
        ({"X-Evil\r\nInjected": "1"}, "/"),
        ({}, "/a b"),
    ],
)
def test_a_request_that_would_split_is_refused(headers: dict[str, str], path: str) -> None:
    with pytest.raises(ValueError):
        build_request("POST", path, TARGET, headers, b"")
