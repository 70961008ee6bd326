"""Development TLS: a local CA and server certificate that Python's ssl accepts."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

import keys._tls
from keys import DevTls, ensure_dev_tls


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


async def handshake(tls: DevTls, server_hostname: str, *, strict: bool = True) -> bytes:
    """Serve on 127.0.0.1 with the dev cert; connect trusting only the dev CA."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls.cert, tls.key)

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hej")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    # cafile given: create_default_context loads that file and no system roots.
    client_ctx = ssl.create_default_context(cafile=str(tls.ca_cert))
    if strict:
        # The default from Python 3.13 on; the certificates must pass it already.
        client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname=server_hostname
        )
        try:
            return await reader.read()
        finally:
            writer.close()
            # The server closes first; a TLS close_notify race is not a failure.
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def tls(tmp_path: Path) -> DevTls:
    return ensure_dev_tls(tmp_path / "tls")


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
async def test_real_tls_handshake_trusting_only_the_dev_ca(tls: DevTls, hostname: str) -> None:
    assert await handshake(tls, hostname) == b"hej"


async def test_handshake_for_a_name_not_in_the_certificate_fails(tls: DevTls) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await handshake(tls, "hub.example.org")


async def test_handshake_trusting_another_ca_fails(tls: DevTls, tmp_path: Path) -> None:
    other = ensure_dev_tls(tmp_path / "other")
    mixed = DevTls(ca_cert=other.ca_cert, cert=tls.cert, key=tls.key)
    with pytest.raises(ssl.SSLCertVerificationError):
        await handshake(mixed, "localhost")


def test_files_and_modes(tls: DevTls) -> None:
    directory = tls.cert.parent
    assert {p.name for p in directory.iterdir()} == {
        "ca.pem",
        "ca-key.pem",
        "server.pem",
        "server-key.pem",
    }
    assert mode_of(directory) == 0o700
    assert mode_of(directory / "ca-key.pem") == 0o600
    assert mode_of(tls.key) == 0o600
    assert tls.ca_cert == directory / "ca.pem"
    assert b"PRIVATE KEY" not in tls.cert.read_bytes() + tls.ca_cert.read_bytes()


def test_calling_twice_does_not_change_the_files(tmp_path: Path) -> None:
    first = ensure_dev_tls(tmp_path / "tls")
    before = snapshot(tmp_path / "tls")
    second = ensure_dev_tls(tmp_path / "tls")
    assert second == first
    assert snapshot(tmp_path / "tls") == before


def test_new_hostname_reissues_the_server_cert_but_keeps_the_ca(tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    tls = ensure_dev_tls(directory)
    ca_before = tls.ca_cert.read_bytes()
    cert_before = tls.cert.read_bytes()
    ensure_dev_tls(directory, ("localhost", "127.0.0.1", "::1", "hub.test"))
    assert tls.ca_cert.read_bytes() == ca_before
    assert tls.cert.read_bytes() != cert_before
    assert asyncio.run(handshake(tls, "hub.test")) == b"hej"
    # A subset of the names now covered needs nothing new.
    after = snapshot(directory)
    ensure_dev_tls(directory, ("hub.test",))
    assert snapshot(directory) == after


def test_server_cert_close_to_expiry_is_reissued_and_ca_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "tls"
    real_now = keys._tls._utcnow()
    # Issued 380 days ago: 17 days left of 397, under the 30-day margin.
    monkeypatch.setattr(keys._tls, "_utcnow", lambda: real_now - dt.timedelta(days=380))
    tls = ensure_dev_tls(directory)
    ca_before = tls.ca_cert.read_bytes()
    cert_before = tls.cert.read_bytes()
    monkeypatch.setattr(keys._tls, "_utcnow", lambda: real_now)
    ensure_dev_tls(directory)
    assert tls.ca_cert.read_bytes() == ca_before
    assert tls.cert.read_bytes() != cert_before
    assert asyncio.run(handshake(tls, "localhost")) == b"hej"


def test_server_cert_with_more_than_30_days_left_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "tls"
    real_now = keys._tls._utcnow()
    monkeypatch.setattr(keys._tls, "_utcnow", lambda: real_now - dt.timedelta(days=300))
    ensure_dev_tls(directory)
    before = snapshot(directory)
    monkeypatch.setattr(keys._tls, "_utcnow", lambda: real_now)
    ensure_dev_tls(directory)
    assert snapshot(directory) == before


def test_missing_server_key_is_reissued(tls: DevTls) -> None:
    tls.key.unlink()
    ca_before = tls.ca_cert.read_bytes()
    ensure_dev_tls(tls.cert.parent)
    assert tls.key.exists()
    assert mode_of(tls.key) == 0o600
    assert tls.ca_cert.read_bytes() == ca_before
    assert asyncio.run(handshake(tls, "localhost")) == b"hej"


def test_missing_ca_key_replaces_the_ca_and_the_server_cert(tls: DevTls) -> None:
    (tls.cert.parent / "ca-key.pem").unlink()
    ca_before = tls.ca_cert.read_bytes()
    cert_before = tls.cert.read_bytes()
    ensure_dev_tls(tls.cert.parent)
    assert tls.ca_cert.read_bytes() != ca_before
    assert tls.cert.read_bytes() != cert_before
    assert asyncio.run(handshake(tls, "localhost")) == b"hej"


@pytest.mark.parametrize("hostnames", [(), "localhost"])
def test_hostnames_must_be_a_non_empty_sequence(tmp_path: Path, hostnames: Sequence[str]) -> None:
    with pytest.raises(ValueError):
        ensure_dev_tls(tmp_path / "tls", hostnames)
