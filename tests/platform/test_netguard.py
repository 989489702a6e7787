"""crush.lib.netguard: the refusal table (no network needed) and real exchanges with a loopback server."""

from __future__ import annotations

import ipaddress

import pytest

from crush.lib import netguard
from crush.lib.netguard import NetworkError, ResponseTooLarge, UrlRefused, check_url, guarded_request


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.png", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("http:///nohost", "no host"),
        ("http://127.0.0.1/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://017700000001/", "loopback"),
        ("http://127.0.0.1./", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:7f00:1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[64:ff9b::a00:1]/", "private"),
        ("http://[2002:a00:1::]/", "private"),
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://100.64.0.1/", "shared"),
        ("http://100.127.255.254/", "shared"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fd00:ec2::254]/", "unique-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://198.18.0.1/", "benchmarking"),
        ("http://192.0.2.1/", "documentation"),
        ("http://240.0.0.1/", "reserved"),
        ("http://1.2.3.4.5/", "not a valid IPv4"),
        ("http://256.1.1.1/", "not a valid IPv4"),
        ("http://0x1g.1/", "not a valid IPv4"),
    ],
)
def test_check_url_refuses(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        check_url(url, allow_private=False)

    assert reason in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/",
        "https://8.8.8.8:8443/x?y=1",
        "http://[2606:4700::1111]/",
        "http://user:p@1.1.1.1/",
    ],
)
def test_check_url_accepts_public_addresses(url: str) -> None:
    check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/", "http://10.0.0.1/", "http://[::ffff:192.168.0.1]/"]
)
def test_check_url_allow_private_lets_private_through(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://0.0.0.0/", "http://224.0.0.1/", "http://[ff02::1]/"])
def test_check_url_refuses_never_addresses_even_with_allow_private(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url(url, allow_private=True)


def test_check_url_refuses_a_name_when_any_record_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    addresses = [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("::ffff:10.0.0.7")]
    monkeypatch.setattr(netguard.target, "resolve_host", lambda host, port: addresses)

    with pytest.raises(UrlRefused) as caught:
        check_url("http://rebind.example/", allow_private=False)

    assert "resolves to a private address" in caught.value.message


def test_check_url_unresolvable_name_is_a_network_error() -> None:
    with pytest.raises(NetworkError):
        check_url("http://does-not-exist.invalid/", allow_private=False)


# --- real exchanges on loopback ----------------------------------------------------------------------------


def _get(url: str, **kwargs: object) -> netguard.GuardedResponse:
    options: dict = {"allow_private": True, "connect_timeout": 2, "read_timeout": 2, "max_bytes": 10_000}
    options.update(kwargs)
    return guarded_request("GET", url, **options)


def test_guarded_request_returns_http_errors_as_answers(httpserver) -> None:
    httpserver.expect_request("/gone").respond_with_data("gone", status=404)

    response = _get(httpserver.url_for("/gone"))

    assert response.status == 404
    assert response.body == b"gone"


def test_guarded_request_sends_basic_auth_and_hides_credentials(httpserver) -> None:
    httpserver.expect_request("/a", headers={"Authorization": "Basic dTpwJTIw"}).respond_with_data("ok")

    response = _get(httpserver.url_for("/a").replace("http://", "http://u:p%2520@"))

    assert response.status == 200
    assert "u:" not in response.url


def test_guarded_request_follows_at_most_the_allowed_redirects(httpserver) -> None:
    for index in range(7):
        httpserver.expect_request(f"/r{index}").respond_with_data(
            "", status=302, headers={"Location": f"/r{index + 1}"}
        )

    with pytest.raises(UrlRefused) as caught:
        _get(httpserver.url_for("/r0"), follow_redirects=5)

    assert "more than 5 redirects" in caught.value.message


def test_guarded_request_rechecks_redirect_targets(httpserver, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the first URL's name resolves to a public address that is (in this test) our loopback server
    real_pool = netguard.client._pool
    monkeypatch.setattr(
        netguard.target, "resolve_host", lambda host, port: [ipaddress.ip_address("93.184.215.14")]
    )
    monkeypatch.setattr(
        netguard.client,
        "_pool",
        lambda target, address, timeout: real_pool(target, ipaddress.ip_address("127.0.0.1"), timeout),
    )
    httpserver.expect_request("/start").respond_with_data(
        "", status=301, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )

    with pytest.raises(UrlRefused) as caught:
        guarded_request(
            "GET",
            f"http://public.example:{httpserver.port}/start",
            allow_private=False,
            connect_timeout=2,
            read_timeout=2,
            max_bytes=1000,
            follow_redirects=5,
        )

    assert "link-local" in caught.value.message


def test_guarded_request_caps_the_body(httpserver) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 20_000)

    with pytest.raises(ResponseTooLarge):
        _get(httpserver.url_for("/big"), max_bytes=10_000)


def test_guarded_request_connection_refused_is_a_network_error() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(NetworkError):
        _get(f"http://127.0.0.1:{port}/")


# --- one message per network failure (issue 13: a refused connection said "did not answer in time") -----


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_guarded_request_connection_refused_says_refused() -> None:
    with pytest.raises(NetworkError) as caught:
        _get(f"http://127.0.0.1:{_closed_port()}/")

    assert caught.value.message == netguard.MESSAGE_REFUSED


def test_guarded_request_unresolvable_host_says_not_resolved() -> None:
    with pytest.raises(NetworkError) as caught:
        _get("http://does-not-exist.invalid/")

    assert caught.value.message == netguard.MESSAGE_UNRESOLVED


def test_guarded_request_silent_server_says_time_out() -> None:
    import socket

    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]

        with pytest.raises(NetworkError) as caught:
            _get(f"http://127.0.0.1:{port}/", read_timeout=0.3)

    assert caught.value.message == netguard.MESSAGE_TIMEOUT


def test_guarded_request_https_to_a_plain_http_server_says_tls_failed(httpserver) -> None:
    httpserver.expect_request("/").respond_with_data("plain")

    with pytest.raises(NetworkError) as caught:
        _get(httpserver.url_for("/").replace("http://", "https://"))

    assert caught.value.message == netguard.MESSAGE_TLS


def test_guarded_request_self_signed_certificate_says_not_verified(tmp_path) -> None:
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        with pytest.raises(NetworkError) as caught:
            _get(f"https://127.0.0.1:{server.server_address[1]}/")
    finally:
        thread.join(timeout=5)
        server.server_close()

    assert caught.value.message == netguard.MESSAGE_TLS_CERTIFICATE
