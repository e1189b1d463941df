"""SIPADU's cryptography: pure functions over bytes, streams and keys.

This package imports nothing else of SIPADU and builds only on pyca/cryptography and
argon2-cffi. Every failure raises :class:`CryptoError`. The formats are specified
byte by byte in ``docs/crypto.md``; a format change is a new version, never an edit.

The API the rest of SIPADU uses:

- Keys: :func:`new_key` (256-bit symmetric), :func:`new_keypair` (HPKE recipient),
  :func:`fingerprint`, :func:`seal_private_key` / :func:`open_private_key`.
- Wrapping: :func:`wrap_key` / :func:`unwrap_key` with a :class:`KeyContext`.
- Fields: :func:`seal_field` / :func:`open_field` (always padded; version 2 binds the
  row's metadata, :data:`Bound`), :func:`field_version`.
- Files: :func:`encrypting_writer` / :func:`decrypt_stream` / :func:`decrypting_reader`.
- Small secrets: :func:`seal_secret` / :func:`open_secret` (TOTP seeds).
- Signatures: :func:`sign` / :func:`verify_signature` (Ed25519, audit checkpoints).
- Secrets: :func:`hash_secret` / :func:`verify_secret` (passwords, passphrases),
  :func:`derive_keys`, :func:`lookup_id` (mailbox codes), :class:`Argon2Params`.
- Subkeys: :func:`derive_subkey` (HKDF-SHA256, RFC 5869: one key per use of a secret).
"""

from sipadu.crypto.age_keys import age_private_key, age_public_key
from sipadu.crypto.envelope import KeyContext, Purpose, unwrap_key, wrap_key
from sipadu.crypto.errors import CryptoError
from sipadu.crypto.fields import (
    LEGACY_FIELD_VERSION,
    Bound,
    field_version,
    open_field,
    seal_field,
)
from sipadu.crypto.kdf import (
    DEFAULT_PARAMS,
    RECORD_HEAD_LEN,
    Argon2Params,
    DerivedKeys,
    SecretRecord,
    derive_keys,
    derive_subkey,
    hash_secret,
    lookup_id,
    verify_secret,
)
from sipadu.crypto.keys import (
    DEFAULT_SUITE,
    PrivateKey,
    PublicKey,
    Suite,
    fingerprint,
    new_keypair,
    open_private_key,
    seal_private_key,
)
from sipadu.crypto.signing import sign, signing_public_key, verify_signature
from sipadu.crypto.stream import (
    DEFAULT_CHUNK_SIZE,
    EncryptingWriter,
    decrypt_stream,
    decrypting_reader,
    encrypting_writer,
)
from sipadu.crypto.symmetric import new_key, open_secret, seal_secret

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_PARAMS",
    "DEFAULT_SUITE",
    "LEGACY_FIELD_VERSION",
    "RECORD_HEAD_LEN",
    "Argon2Params",
    "Bound",
    "CryptoError",
    "DerivedKeys",
    "EncryptingWriter",
    "KeyContext",
    "PrivateKey",
    "PublicKey",
    "Purpose",
    "SecretRecord",
    "Suite",
    "age_private_key",
    "age_public_key",
    "decrypt_stream",
    "decrypting_reader",
    "derive_keys",
    "derive_subkey",
    "encrypting_writer",
    "field_version",
    "fingerprint",
    "hash_secret",
    "lookup_id",
    "new_key",
    "new_keypair",
    "open_field",
    "open_private_key",
    "open_secret",
    "seal_field",
    "seal_private_key",
    "seal_secret",
    "sign",
    "signing_public_key",
    "unwrap_key",
    "verify_secret",
    "verify_signature",
    "wrap_key",
]
