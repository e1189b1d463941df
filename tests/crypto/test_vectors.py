"""Known-answer vectors (tests/vectors/crypto.json, documented in docs/crypto.md).

They pin the formats byte by byte: a change that alters any stored byte fails here and
must come as a new format version instead.
"""

import io
import json
import struct
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sipadu.crypto import (
    Argon2Params,
    CryptoError,
    KeyContext,
    PrivateKey,
    PublicKey,
    Purpose,
    Suite,
    decrypt_stream,
    fingerprint,
    open_field,
    open_private_key,
    unwrap_key,
    verify_secret,
)
from sipadu.crypto.fields import _seal_v1, _seal_v2
from sipadu.crypto.kdf import SecretRecord, argon2id, derive_keys, lookup_id
from sipadu.crypto.keys import _seal_private_key
from sipadu.crypto.padding import padme
from sipadu.crypto.stream import EncryptingWriter

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "crypto.json").read_text())
h = bytes.fromhex


def params_of(v: dict) -> Argon2Params:
    return Argon2Params(v["time_cost"], v["memory_kib"], v["parallelism"])


@pytest.mark.parametrize("v", VECTORS["argon2id"], ids=lambda v: v["name"])
def test_argon2id_vectors(v):
    secret, salt, params = h(v["secret"]), h(v["salt"]), params_of(v)
    assert argon2id(secret, salt, params).hex() == v["argon2id"]
    keys = derive_keys(secret, salt, params)
    assert (keys.verifier.hex(), keys.kek.hex()) == (v["verifier"], v["kek"])
    record = SecretRecord.from_bytes(h(v["record"]))
    assert record.params == params
    assert verify_secret(secret, record).hex() == v["kek"]


def test_vectors_were_checked_against_an_independent_argon2():
    assert all(v["checked_against_argon2_cli"] for v in VECTORS["argon2id"])


@pytest.mark.parametrize("v", VECTORS["lookup_id"])
def test_lookup_id_vectors(v):
    assert lookup_id(h(v["secret"]), h(v["salt"]), params_of(v)).hex() == v["lookup_id"]


@pytest.mark.parametrize("v", VECTORS["hpke_unwrap"], ids=lambda v: f"{v['suite']}-{v['purpose']}")
def test_hpke_decryption_vectors(v):
    private = PrivateKey(Suite[v["suite"]], h(v["private"]))
    assert private.public_key() == PublicKey.from_bytes(h(v["public"]))
    assert fingerprint(private.public_key()) == v["fingerprint"]
    context = KeyContext(uuid.UUID(v["report_id"]), Purpose(v["purpose"]), v["epoch"])
    assert unwrap_key(h(v["wrapped"]), private, context).hex() == v["key"]


@pytest.mark.parametrize("v", VECTORS["private_key_seal"], ids=lambda v: v["suite"])
def test_private_key_seal_vectors(v):
    private = PrivateKey(Suite[v["suite"]], h(v["private"]))
    kek, owner, purpose = h(v["kek"]), v["owner"], v["purpose"]
    sealed = _seal_private_key(private, kek, h(v["nonce"]), owner=owner, purpose=purpose)
    assert sealed.hex() == v["sealed"]
    opened = open_private_key(h(v["sealed"]), kek, owner=owner, purpose=purpose)
    assert opened.public_key() == private.public_key()


@pytest.mark.parametrize("v", VECTORS["field"], ids=lambda v: v["field"])
def test_field_vectors(v):
    key, report = h(v["key"]), uuid.UUID(v["report_id"])
    sealed = _seal_v1(key, h(v["nonce"]), h(v["plaintext"]), report_id=report, field=v["field"])
    assert sealed.hex() == v["sealed"]
    assert (
        open_field(key, h(v["sealed"]), report_id=report, field=v["field"]).hex() == v["plaintext"]
    )


def _spec_aad_v2(report: uuid.UUID, field: str, bound: list) -> bytes:
    """The version 2 associated data exactly as docs/crypto.md writes it, built here
    without sipadu.crypto.binding: u32 length, bytes, for each part in order."""
    parts = [b"sipadu.field.v2", b"\x02", report.bytes, field.encode()]
    for name, value in bound:
        parts += [name.encode("ascii"), h(value)]
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


@pytest.mark.parametrize("v", VECTORS["field_v2"], ids=lambda v: v["field"].split("/")[0])
def test_field_v2_vectors(v):
    key, report = h(v["key"]), uuid.UUID(v["report_id"])
    bound = [(name, h(value)) for name, value in v["bound"]]
    sealed = _seal_v2(
        key, h(v["nonce"]), h(v["plaintext"]), report_id=report, field=v["field"], bound=bound
    )
    assert sealed.hex() == v["sealed"]
    blob = h(v["sealed"])
    assert blob[0] == 2 and blob[1:13] == h(v["nonce"])
    # Independent of sipadu's code: plain AES-256-GCM over the documented layout.
    padded = AESGCM(key).decrypt(
        blob[1:13], blob[13:], _spec_aad_v2(report, v["field"], v["bound"])
    )
    assert padded.startswith(h(v["plaintext"]) + b"\x80")
    opened = open_field(key, blob, report_id=report, field=v["field"], bound=bound)
    assert opened.hex() == v["plaintext"]
    if bound:  # any other metadata does not open it
        with pytest.raises(CryptoError):
            open_field(key, blob, report_id=report, field=v["field"], bound=bound[:-1])


@pytest.mark.parametrize("v", VECTORS["stream"], ids=lambda v: f"{len(v['plaintext']) // 2}B")
def test_stream_vectors(v):
    key = h(v["key"])
    sink = io.BytesIO()
    with EncryptingWriter(sink, v["chunk_size"], _key=key) as writer:
        writer.write(h(v["plaintext"]))
    assert sink.getvalue().hex() == v["stream"]
    assert b"".join(decrypt_stream(io.BytesIO(h(v["stream"])), key)).hex() == v["plaintext"]


def test_padme_vectors():
    assert [[n, padme(n)] for n, _ in VECTORS["padme"]] == VECTORS["padme"]
