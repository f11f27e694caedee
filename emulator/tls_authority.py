"""Making the certificates ``@connections`` is served with: a CA made on the spot and a
server certificate it signs, for the API's AWS hostname
(``*.execute-api.{region}.amazonaws.com``), ``localhost`` and 127.0.0.1.

Only :func:`emulator.tls.certificates` imports this module, when no kept certificate
is still good: ``cryptography`` holds about 8 MB of memory once loaded.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emulator.tls import Certificates, execute_api_host


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path: Path, data: bytes, mode: int) -> None:
    """``data`` in ``path`` (made with ``mode``), on disk before this returns: a kept
    folder is renamed into place only once its files are whole."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def make_certificates(
    directory: Path, region: str, lifetime: datetime.timedelta = datetime.timedelta(days=2)
) -> Certificates:
    """A new CA and a server certificate it signed, written to ``directory``: ``ca.pem``,
    ``cert.pem`` and ``key.pem`` (the server's key, readable by its owner only). The CA's
    key is not kept: nothing else can be signed with it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("chat local gateway CA"))
        .issuer_name(_name("chat local gateway CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
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
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(execute_api_host("*", region)),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = Certificates(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(paths.ca_path, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(paths.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(paths.key_path, key_pem, 0o600)
    return paths
