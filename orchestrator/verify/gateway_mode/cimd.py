"""A Client ID Metadata Document served over HTTPS on 127.0.0.1 for the ``gateway.cimd_client``
check (local target: a short-lived certificate signed by the lab's CA, which the gateway trusts)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSListener, TLSStream

from orchestrator.verify.gateway_mode.model import GatewayTarget


def _leaf_certificate(ca_file: Path, ca_key_file: Path, folder: Path) -> tuple[Path, Path]:
    """A short-lived certificate for 127.0.0.1 signed by the lab's CA (local target only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prmlab verify CIMD")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_path, key_path = folder / "cimd.pem", folder / "cimd-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@asynccontextmanager
async def serve_client_metadata(
    target: GatewayTarget, client_name: str, document_for: Callable[[str], bytes] | None = None
) -> AsyncIterator[str]:
    """Serve a Client ID Metadata Document on https://127.0.0.1:<port>/...; yields its URL (=
    client_id). ``document_for(url)`` replaces the document (tests serve broken ones)."""
    if target.ca_file is None or target.ca_key_file is None:
        raise RuntimeError("serving a client metadata document needs the lab's CA and its key")
    with tempfile.TemporaryDirectory(prefix="prmlab-cimd-") as tmp:
        cert, key = _leaf_certificate(target.ca_file, target.ca_key_file, Path(tmp))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        port = listener.extra(SocketAttribute.local_port)  # noqa: S610 - anyio typed attribute, not Django
        url = f"https://127.0.0.1:{port}/prmlab-verify/client-metadata.json"
        document = json.dumps(
            {
                "client_id": url,
                "client_name": client_name,
                "redirect_uris": [target.redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }
        ).encode()
        if document_for is not None:
            document = document_for(url)

        async def handle(stream: TLSStream) -> None:
            async with stream:
                try:
                    with anyio.fail_after(10):
                        await stream.receive(65536)
                        await stream.send(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                            + f"Content-Length: {len(document)}\r\n\r\n".encode()
                            + document
                        )
                except (anyio.EndOfStream, anyio.BrokenResourceError, ssl.SSLError, TimeoutError, OSError):
                    return

        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(TLSListener(listener, context, standard_compatible=False).serve, handle)
            try:
                yield url
            finally:
                tg.cancel_scope.cancel()
