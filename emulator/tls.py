"""TLS material of the emulator: a CA kept in the state folder and a server certificate it signs.

Where it sits: ``emulator.server`` calls ``ensure_tls(state_dir)`` before it listens; every HTTPS
port of the emulator (the main port, each APIM gateway port, each container app port) serves the
same server certificate, valid for ``127.0.0.1``, ``::1`` and ``localhost`` (a certificate is not
bound to a port). Clients trust ``ca.pem`` explicitly (``verify=<ca.pem>``), never globally.

Files (created once, kept across restarts): ``ca.pem``, ``ca-key.pem`` (0600), ``server.pem``
(server certificate followed by the CA), ``server-key.pem`` (0600). Keys are EC P-256: fast to
generate, accepted by every client the lab uses. The server certificate is re-issued when it is
missing, about to expire, or was not signed by the current CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"

_CA_DAYS = 3650
_SERVER_DAYS = 825
_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_file: Path
    ca_key_file: Path
    cert_file: Path
    key_file: Path


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "prmlab local emulator CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "prmlab"),
        ]
    )
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(files.ca_key_file, _key_pem(key))
    _write_public(files.ca_file, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _load_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    if not (files.ca_file.exists() and files.ca_key_file.exists()):
        return None
    cert = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    key = serialization.load_pem_private_key(files.ca_key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc - _RENEW_BEFORE < _now():
        return None
    return cert, key


def _server_ok(files: TlsFiles, ca: x509.Certificate) -> bool:
    if not (files.cert_file.exists() and files.key_file.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, Exception):
        return False
    return cert.not_valid_after_utc - _RENEW_BEFORE > _now()


def _new_server(files: TlsFiles, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_SERVER_DAYS))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    _write_private(files.key_file, _key_pem(key))
    _write_public(files.cert_file, chain)


def ensure_tls(state_dir: Path) -> TlsFiles:
    """Create the CA and the server certificate when missing (or expiring); return their paths."""
    state_dir.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca_file=state_dir / CA_FILE,
        ca_key_file=state_dir / CA_KEY_FILE,
        cert_file=state_dir / CERT_FILE,
        key_file=state_dir / KEY_FILE,
    )
    loaded = _load_ca(files)
    ca, ca_key = loaded if loaded is not None else _new_ca(files)
    if loaded is None or not _server_ok(files, ca):
        _new_server(files, ca, ca_key)
    return files
