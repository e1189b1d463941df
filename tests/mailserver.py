"""A real SMTP server for the digest's tests (issue 19): aiosmtpd on 127.0.0.1, in plain
SMTP, STARTTLS or implicit TLS with a certificate made here (a private CA the client is
told to trust through ``SIPADU_SMTP_CA_FILE``), optionally asking for a login; and an
inbox that keeps every message as it arrived (bytes), refusing the recipients a test
names."""

import datetime
import ipaddress
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import SERVING_TRIES, free_port

SMTP_USER = "sipadu-relay"
SMTP_PASSWORD = "relay-password-never-logged-7d1f"


@dataclass
class Arrived:
    sender: str
    recipients: list[str]
    data: bytes  # the message as the server received it


@dataclass
class Inbox:
    """What the server received, and the recipients it refuses (550)."""

    messages: list[Arrived] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(Arrived(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Arrived]:
        return [m for m in self.messages if address in m.recipients]


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self, legacy: bool = False) -> ssl.SSLContext:
        """The server's TLS; ``legacy``: TLS 1.1 only (what an old relay may still
        speak; OpenSSL takes it only at security level 0)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        if legacy:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.TLSv1_1
                context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        return context


def make_certificates(folder: Path) -> Certificates:
    """A CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SIPADU test mail CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    files = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def _authenticator(inbox: Inbox):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (SMTP_USER, SMTP_PASSWORD)
        if ok:
            inbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    return check


@dataclass(frozen=True)
class Server:
    inbox: Inbox
    port: int
    env: dict[str, str]  # the SIPADU_SMTP_* settings that reach it


@contextmanager
def smtp_server(
    mode: str = "plain",
    certificates: Certificates | None = None,
    login: bool = False,
    legacy_tls: bool = False,
) -> Iterator[Server]:
    """aiosmtpd on 127.0.0.1 in ``mode`` ``plain`` (smtp+plain://), ``starttls``
    (smtp://, STARTTLS required) or ``tls`` (smtps://), asking for a login if ``login``;
    ``legacy_tls``: STARTTLS in TLS 1.1 only."""
    inbox = Inbox()
    options: dict = {"hostname": "127.0.0.1"}
    if mode == "starttls":
        assert certificates is not None
        context = certificates.server_context(legacy=legacy_tls)
        options |= {"tls_context": context, "require_starttls": True}
    elif mode == "tls":
        assert certificates is not None
        options |= {"ssl_context": certificates.server_context()}
    if login:
        options |= {"authenticator": _authenticator(inbox), "auth_required": True}
    if mode in ("plain", "tls") and login:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; implicit TLS is TLS all the same.
        options |= {"auth_require_tls": False}
    for _ in range(SERVING_TRIES):  # a port taken between free_port and the bind: another
        port = free_port()
        controller = Controller(inbox, **options, port=port)
        try:
            controller.start()
            break
        except OSError:
            continue
    else:
        raise AssertionError("no free port for the SMTP server")
    scheme = {"plain": "smtp+plain", "starttls": "smtp", "tls": "smtps"}[mode]
    env = {
        "SIPADU_SMTP_URL": f"{scheme}://127.0.0.1:{port}",
        "SIPADU_SMTP_FROM": "sipadu@inspektorat.example.go.id",
    }
    if certificates is not None:
        env["SIPADU_SMTP_CA_FILE"] = str(certificates.ca_file)
    if login:
        env |= {"SIPADU_SMTP_USERNAME": SMTP_USER, "SIPADU_SMTP_PASSWORD": SMTP_PASSWORD}
    try:
        yield Server(inbox, port, env)
    finally:
        controller.stop()
