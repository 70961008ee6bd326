"""A local certificate authority and server certificate for development TLS.

The hub only speaks TLS, also on a developer's machine. `ensure_dev_tls` makes a
private CA and a server certificate signed by it, so clients can verify the hub
properly (trusting just that CA) instead of turning verification off.

Files in the directory (mode 0700)::

    ca.pem          CA certificate: give this to clients as their only trust root
    ca-key.pem      CA private key (0600)
    server.pem      server certificate
    server-key.pem  server private key (0600)

The certificates follow the profile that OpenSSL's strict verification
(``VERIFY_X509_STRICT``, on by default since Python 3.13) expects: key
identifiers, critical basic constraints and key usage, and SANs only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keys._files import make_private_dirs, replace_file

__all__ = ["DevTls", "ensure_dev_tls"]

_CA_NAME = "Gbg Hub Dev CA"
_SERVER_NAME = "Gbg Hub Dev Server"
_CA_LIFETIME = dt.timedelta(days=3650)
# 397 days is the longest lifetime browsers accept for a server certificate.
_SERVER_LIFETIME = dt.timedelta(days=397)
_RENEW_BEFORE = dt.timedelta(days=30)
# Tolerate a client clock slightly behind ours.
_BACKDATE = dt.timedelta(minutes=5)

_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class DevTls:
    """Paths of the development TLS files.

    Attributes:
        ca_cert: the CA certificate clients should trust (``ca.pem``).
        cert: the server certificate (``server.pem``).
        key: the server private key (``server-key.pem``).
    """

    ca_cert: Path
    cert: Path
    key: Path


def _utcnow() -> dt.datetime:
    # Its own function so tests can move the clock.
    return dt.datetime.now(dt.UTC)


def _split_hostnames(hostnames: Sequence[str]) -> tuple[set[str], set[_IpAddress]]:
    dns: set[str] = set()
    ips: set[_IpAddress] = set()
    for name in hostnames:
        try:
            ips.add(ipaddress.ip_address(name))
        except ValueError:
            dns.add(name.lower())
    return dns, ips


def _private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_pair(
    cert_path: Path, key_path: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """Return the certificate and its key, or None if either is missing or unusable."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    # A crash between writing the key and the certificate leaves a mismatched pair.
    if key.public_key() != cert.public_key():
        return None
    return cert, key


def _valid_for(cert: x509.Certificate, now: dt.datetime, margin: dt.timedelta) -> bool:
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now >= margin


def _issue_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _CA_NAME)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue_server(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    hostnames: Sequence[str],
    now: dt.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    dns, ips = _split_hostnames(hostnames)
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in sorted(dns)]
    alt_names += [x509.IPAddress(ip) for ip in sorted(ips, key=str)]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _SERVER_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + _SERVER_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _ca_is_usable(cert: x509.Certificate, now: dt.datetime) -> bool:
    # The CA must outlive a freshly issued server certificate, else we would soon
    # be back here issuing a short-lived one.
    if not _valid_for(cert, now, _SERVER_LIFETIME):
        return False
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


def _server_is_usable(
    cert: x509.Certificate,
    ca_cert: x509.Certificate,
    hostnames: Sequence[str],
    now: dt.datetime,
) -> bool:
    if not _valid_for(cert, now, _RENEW_BEFORE):
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    wanted_dns, wanted_ips = _split_hostnames(hostnames)
    have_dns = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    have_ips = set(san.get_values_for_type(x509.IPAddress))
    return wanted_dns <= have_dns and wanted_ips <= have_ips


def ensure_dev_tls(
    directory: Path,
    hostnames: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
) -> DevTls:
    """Make sure `directory` holds a usable development CA and server certificate.

    Idempotent: existing files are left untouched while the server certificate
    is signed by the CA, matches its key, covers every name in `hostnames` and
    stays valid for at least 30 more days. Otherwise a new server certificate is
    issued (EC P-256, 397 days, serverAuth), keeping the CA (EC P-256, 10 years)
    if it is still good for the lifetime of a new server certificate. Files are
    replaced atomically; private keys are created with mode 0600.

    Args:
        directory: where the files live; created with mode 0700 if missing.
        hostnames: DNS names and IP addresses (told apart with `ipaddress`) the
            server certificate must cover.

    Returns:
        The paths of the CA certificate, server certificate and server key.

    Raises:
        ValueError: `hostnames` is empty.
        OSError: the directory or files cannot be created.
    """
    if isinstance(hostnames, str) or not hostnames:
        # A bare string is a Sequence[str] of characters: certainly a mistake.
        raise ValueError("hostnames must be a non-empty sequence of names")
    make_private_dirs(directory)
    paths = DevTls(
        ca_cert=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server-key.pem",
    )
    ca_key_path = directory / "ca-key.pem"
    now = _utcnow()

    ca = _load_pair(paths.ca_cert, ca_key_path)
    if ca is None or not _ca_is_usable(ca[0], now):
        ca = _issue_ca(now)
        # Key first: if we stop half-way, the mismatched pair is detected and
        # replaced next time rather than used.
        replace_file(ca_key_path, _private_key_pem(ca[1]), 0o600)
        replace_file(paths.ca_cert, ca[0].public_bytes(serialization.Encoding.PEM), 0o644)
    ca_cert, ca_key = ca

    server = _load_pair(paths.cert, paths.key)
    if server is None or not _server_is_usable(server[0], ca_cert, hostnames, now):
        cert, key = _issue_server(ca_cert, ca_key, hostnames, now)
        replace_file(paths.key, _private_key_pem(key), 0o600)
        replace_file(paths.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return paths
