"""Instance secrets: generated into the instance folder, or given through config.

A single host keeps its secrets as files in the instance folder (folder 0700, files
0600), created by ``sipadu init`` (and on first start in development). Several hosts
share them by setting ``SIPADU_*`` variables instead (see :mod:`sipadu.settings.config`).
Backups must include them: without the lookup salt no mailbox can be found again.

Each portal loads only what it needs: the reporter app never reads the staff session
key; it reads the audit signing key only to learn its public half, and only where
``SIPADU_AUDIT_PUBLIC_KEY`` is not set (:func:`reporter_audit_key`). A portal's session
key keys nothing itself: each use of it (the cookies, each rate-limit bucket, the staff
device cookies) gets a key of its own (:func:`derived_key`).
"""

import os
import stat
from pathlib import Path

from sipadu.crypto import derive_subkey, signing_public_key
from sipadu.settings.config import Config, ConfigError

# name -> (length in bytes, environment variable that overrides the file)
SPECS: dict[str, tuple[int, str]] = {
    "reporter_session_key": (32, "SIPADU_REPORTER_SESSION_KEY"),
    "staff_session_key": (32, "SIPADU_STAFF_SESSION_KEY"),
    "lookup_salt": (16, "SIPADU_LOOKUP_SALT"),
    "audit_signing_key": (32, "SIPADU_AUDIT_SIGNING_KEY"),  # Ed25519 private seed
}


def secrets_dir(config: Config) -> Path:
    return config.instance_path / "secrets"


def ensure_instance(config: Config) -> None:
    """Create the instance folder and its secrets folder, private to this OS user."""
    for folder in (config.instance_path, secrets_dir(config)):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)


def generate_missing(config: Config) -> list[str]:
    """Write any secret that is neither configured nor on disk; return their names."""
    ensure_instance(config)
    created = []
    for name, (length, _) in SPECS.items():
        path = secrets_dir(config) / name
        if getattr(config.secrets, name) is not None or path.exists():
            continue
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this instance made it just now
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(os.urandom(length).hex() + "\n")
        created.append(name)
    return created


def load_secret(config: Config, name: str) -> bytes:
    """The secret ``name`` from config, else from the instance folder.

    Refuses a missing secret (in production nothing is generated behind the operator's
    back: a new lookup salt would silently orphan every mailbox) and, in production, a
    file other users can read.
    """
    length, variable = SPECS[name]
    configured = getattr(config.secrets, name)
    if configured is not None:
        return configured
    path = secrets_dir(config) / name
    if not path.exists():
        raise ConfigError(f"secret {name!r} is missing: run `sipadu init` or set {variable}")
    if config.production and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by other users: chmod 600 it")
    try:
        value = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise ConfigError(f"{path} is not hex") from None
    if len(value) != length:
        raise ConfigError(f"{path} must hold {length} bytes")
    return value


def derived_key(secret: bytes, label: str) -> bytes:
    """A 32-byte key for one use of an instance secret
    (:func:`sipadu.crypto.derive_subkey`, HKDF-SHA256 with ``label`` as its info), so a
    key that leaks or is misused for one purpose (a rate-limit bucket's name is an HMAC
    under its key) says nothing of another (the cookies'). Derived at every start:
    existing instances need no new secret."""
    return derive_subkey(secret, label)


def audit_public_key(config: Config) -> str | None:
    """The instance's audit checkpoint public key (hex) where this host knows it: from
    the signing key if readable here, else ``SIPADU_AUDIT_PUBLIC_KEY``; None if neither.

    Stored checkpoints are checked against this key, never against the key a checkpoint
    carries: someone who can write the database can store a checkpoint signed by a key
    of their own (docs/audit.md)."""
    try:
        own: str | None = signing_public_key(load_secret(config, "audit_signing_key")).hex()
    except ConfigError:
        own = None
    if own and config.audit_public_key and own != config.audit_public_key:
        raise ConfigError(
            "SIPADU_AUDIT_PUBLIC_KEY is not the public key of this instance's audit signing key"
        )
    return own or config.audit_public_key


def reporter_audit_key(config: Config) -> bytes | None:
    """The audit public key (32 bytes) the reporter portal checks the agencies' offers
    with (docs/escalation.md): ``SIPADU_AUDIT_PUBLIC_KEY`` where it is set (the signing
    key is then never read), else the public half of the signing key where this host
    can read it (a single host, as ``sipadu init`` makes it); None if neither: then no
    agency is offered to reporters. Never a key read from the database."""
    if config.audit_public_key:
        return bytes.fromhex(config.audit_public_key)
    found = audit_public_key(config)
    return bytes.fromhex(found) if found else None
