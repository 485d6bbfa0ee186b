"""Real network failure shapes on 127.0.0.1: no mocks, real sockets and a real TLS handshake."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dags_api import AirflowClient, AirflowUnavailable, ConnectionSettings

pytestmark = pytest.mark.timeout(30)


class VersionHandler(BaseHTTPRequestHandler):
    """Answers ``/api/v1/version`` like Airflow 2.11, after ``server.delay`` seconds."""

    def do_GET(self) -> None:
        time.sleep(getattr(self.server, "delay", 0.0))
        if self.path != "/api/v1/version":
            self.send_error(404)
            return
        body = json.dumps({"version": "2.11.0", "git_version": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


def serve(server: ThreadingHTTPServer) -> Iterator[str]:
    """Run ``server`` in a thread for the duration of a fixture; yield its host:port."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def client_for(base_url: str, **overrides: Any) -> AirflowClient:
    settings = ConnectionSettings(base_url, **{"max_retries": 0, "api_version": "v1", **overrides})
    return AirflowClient(settings, sleep=lambda seconds: None)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nothing_listening_is_reported_as_refused() -> None:
    port = unused_port()

    with (
        client_for(f"http://127.0.0.1:{port}") as client,
        pytest.raises(AirflowUnavailable) as caught,
    ):
        client.version()

    assert caught.value.reason == "refused"
    assert f"127.0.0.1:{port}" in caught.value.user_message
    assert "refused" in caught.value.user_message


def test_refused_connection_is_retried_with_backoff() -> None:
    sleeps: list[float] = []
    settings = ConnectionSettings(
        f"http://127.0.0.1:{unused_port()}", max_retries=2, api_version="v1"
    )

    with (
        AirflowClient(settings, sleep=sleeps.append) as client,
        pytest.raises(AirflowUnavailable) as caught,
    ):
        client.version()

    assert caught.value.reason == "refused"
    assert sleeps == [0.5, 1.0]


def test_server_that_never_answers_times_out_with_the_seconds_in_the_message() -> None:
    # The kernel completes the handshake for a listening socket; nobody ever answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]

        with (
            client_for(f"http://127.0.0.1:{port}", read_timeout=0.5) as client,
            pytest.raises(AirflowUnavailable) as caught,
        ):
            client.version()

    assert caught.value.reason == "timeout"
    assert "0.5 seconds" in caught.value.user_message


def test_server_that_stalls_in_the_middle_of_the_body_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        done = threading.Event()

        def answer_half() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 100\r\n\r\n{"vers'
                )
                done.wait(10)

        thread = threading.Thread(target=answer_half, daemon=True)
        thread.start()
        try:
            with (
                client_for(f"http://127.0.0.1:{port}", read_timeout=0.5) as client,
                pytest.raises(AirflowUnavailable) as caught,
            ):
                client.version()
        finally:
            done.set()
            thread.join(timeout=5)

    assert caught.value.reason == "timeout"
    assert "0.5 seconds" in caught.value.user_message


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), VersionHandler)
    server.delay = 1.0  # type: ignore[attr-defined]
    yield from serve(server)


def test_slow_answer_within_the_read_timeout_succeeds(slow_server: str) -> None:
    with client_for(f"http://{slow_server}", read_timeout=3) as client:
        assert client.version().version == "2.11.0"


@pytest.fixture(scope="module")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (as an IP address SAN) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path = directory / "airflow-cert.pem"
    key_path = directory / "airflow-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def https_server(self_signed_cert: tuple[Path, Path]) -> Iterator[str]:
    cert_path, key_path = self_signed_cert
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), VersionHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from serve(server)


@pytest.fixture(autouse=True)
def requests_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many hosts (this one included) set REQUESTS_CA_BUNDLE; the client's own TLS
    # settings must win over it. Pin it so the tests behave the same everywhere.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ssl.get_default_verify_paths().openssl_cafile)


def test_self_signed_certificate_is_refused_by_default(https_server: str) -> None:
    with (
        client_for(f"https://{https_server}") as client,
        pytest.raises(AirflowUnavailable) as caught,
    ):
        client.version()

    assert caught.value.reason == "tls"
    assert "certificate" in caught.value.user_message
    assert https_server in caught.value.user_message


def test_self_signed_certificate_is_trusted_through_ca_bundle(
    https_server: str, self_signed_cert: tuple[Path, Path]
) -> None:
    cert_path, _ = self_signed_cert

    with client_for(f"https://{https_server}", ca_bundle=str(cert_path)) as client:
        assert client.version().version == "2.11.0"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verification_can_be_switched_off(https_server: str) -> None:
    with client_for(f"https://{https_server}", verify_tls=False) as client:
        assert client.version().version == "2.11.0"


def test_unknown_host_is_reported_as_dns_and_not_retried() -> None:
    sleeps: list[float] = []
    settings = ConnectionSettings("http://airflow.invalid", max_retries=3, api_version="v1")

    with (
        AirflowClient(settings, sleep=sleeps.append) as client,
        pytest.raises(AirflowUnavailable) as caught,
    ):
        client.version()

    assert caught.value.reason == "dns"
    assert "airflow.invalid" in caught.value.user_message
    assert sleeps == []  # a name that does not resolve will not resolve in a second either
