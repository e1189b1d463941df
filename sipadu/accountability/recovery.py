"""The offline recovery key: every case, internal and identity key is also wrapped to it.

Its private half is made on a trusted machine (``sipadu recovery keygen``), sealed under
a passphrase and kept offline; only the public half is configured on the server
(``SIPADU_RECOVERY_PUBLIC_KEY`` or ``instance/recovery.pub``). With it, access lost to
forgotten passwords or departed staff can be re-granted, and a report routed to nobody
is still readable.

Production refuses to start without a recovery public key, and refuses an instance
holding a demo recovery *private* key: that one is for ``make run`` only.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sipadu.crypto import (
    Argon2Params,
    CryptoError,
    PrivateKey,
    PublicKey,
    SecretRecord,
    fingerprint,
    hash_secret,
    new_keypair,
    open_private_key,
    seal_private_key,
    verify_secret,
)
from sipadu.settings.config import Config, ConfigError

FORMAT = "sipadu-recovery-key-v1"
PUBLIC_FILE = "recovery.pub"
PRIVATE_FILE = "recovery-private.json"
DEMO_PRIVATE_FILE = "DEMO-recovery-private.NOT-FOR-PRODUCTION.json"
DEMO_PASSPHRASE = "demo recovery only"  # noqa: S105 — the demo key is public by design
_OWNER, _PURPOSE = "recovery", "offline"


@dataclass(frozen=True)
class KeyFiles:
    public: Path
    private: Path
    fingerprint: str


def write_keypair(
    directory: Path, passphrase: str, argon2: Argon2Params, *, private_name: str = PRIVATE_FILE
) -> KeyFiles:
    """Generate a recovery key pair into ``directory``: the public half in hex, the
    private half sealed under the passphrase (Argon2id)."""
    if len(passphrase) < 10:
        raise ValueError("the recovery passphrase needs at least 10 characters")
    directory.mkdir(parents=True, exist_ok=True)
    private = new_keypair()
    public = private.public_key()
    record, kek = hash_secret(passphrase.encode("utf-8"), argon2)
    document = {
        "format": FORMAT,
        "fingerprint": fingerprint(public),
        "public_key": public.to_bytes().hex(),
        "record": record.to_bytes().hex(),
        "sealed_private_key": seal_private_key(private, kek, owner=_OWNER, purpose=_PURPOSE).hex(),
    }
    private_path, public_path = directory / private_name, directory / PUBLIC_FILE
    for path, content in (
        (private_path, json.dumps(document, indent=1)),
        (public_path, public.to_bytes().hex()),
    ):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content + "\n")
    return KeyFiles(public_path, private_path, fingerprint(public))


def load_private(path: Path, passphrase: str) -> PrivateKey:
    """Open a recovery private key file (offline, on the trusted machine)."""
    document = json.loads(path.read_text())
    if document.get("format") != FORMAT:
        raise CryptoError("not a SIPADU recovery key file")
    kek = verify_secret(
        passphrase.encode("utf-8"), SecretRecord.from_bytes(bytes.fromhex(document["record"]))
    )
    return open_private_key(
        bytes.fromhex(document["sealed_private_key"]), kek, owner=_OWNER, purpose=_PURPOSE
    )


def make_demo_key(config: Config) -> KeyFiles | None:
    """For development instances: a recovery key pair whose private half sits in the
    instance folder under a published passphrase. Never in production."""
    if config.production:
        raise ConfigError("demo recovery keys are refused in production")
    if config.recovery_public_key or (config.instance_path / PUBLIC_FILE).exists():
        return None
    cheap = Argon2Params(time_cost=1, memory_kib=8 * 1024, parallelism=1)
    return write_keypair(
        config.instance_path, DEMO_PASSPHRASE, cheap, private_name=DEMO_PRIVATE_FILE
    )


def public_key(config: Config) -> PublicKey:
    """The configured recovery public key; production refuses to run without one, or
    with a demo private key on the server."""
    if config.production and (config.instance_path / DEMO_PRIVATE_FILE).exists():
        raise ConfigError(
            f"{config.instance_path / DEMO_PRIVATE_FILE} is a demo recovery key whose private "
            "half is on this server: remove it and configure a real one "
            "(`sipadu recovery keygen` on an offline machine)"
        )
    raw = config.recovery_public_key
    path = config.instance_path / PUBLIC_FILE
    if raw is None and path.exists():
        raw = path.read_text().strip()
    if raw is None:
        raise ConfigError(
            "no recovery public key: set SIPADU_RECOVERY_PUBLIC_KEY or put recovery.pub in the "
            "instance folder (`sipadu recovery keygen` on an offline machine makes one)"
        )
    try:
        return PublicKey.from_bytes(bytes.fromhex(raw))
    except (ValueError, CryptoError):
        raise ConfigError("the recovery public key is not a SIPADU public key (hex)") from None
