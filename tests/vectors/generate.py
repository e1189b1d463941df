"""Regenerate tests/vectors/crypto.json (run by hand; the JSON is committed).

Fixed inputs give full vectors for Argon2id, field sealing, private-key sealing and the
stream format; HPKE is randomized, so its entries are decryption vectors. Where the
Debian ``argon2`` command is installed, the raw Argon2id outputs are checked against it,
an implementation independent of argon2-cffi's Python bindings.

    .venv/bin/python tests/vectors/generate.py
"""

import hashlib
import io
import json
import shutil
import subprocess
import uuid
from pathlib import Path

from sipadu.crypto import (
    Argon2Params,
    KeyContext,
    PrivateKey,
    Purpose,
    Suite,
    fingerprint,
    wrap_key,
)
from sipadu.crypto.fields import _seal_v1, _seal_v2
from sipadu.crypto.kdf import SecretRecord, argon2id, derive_keys, lookup_id
from sipadu.crypto.keys import _PRIVATE_LEN, _seal_private_key
from sipadu.crypto.padding import padme
from sipadu.crypto.stream import EncryptingWriter


def det(label: str, n: int) -> bytes:
    """Deterministic test bytes: SHA-256 in counter mode over a label."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:n]


def argon2_cli(secret: bytes, salt: bytes, p: Argon2Params) -> str | None:
    if not shutil.which("argon2"):
        return None
    mem_log2 = p.memory_kib.bit_length() - 1
    assert 1 << mem_log2 == p.memory_kib
    result = subprocess.run(
        [
            "argon2",
            salt.decode(),
            "-id",
            "-t",
            str(p.time_cost),
            "-m",
            str(mem_log2),
            "-p",
            str(p.parallelism),
            "-l",
            "32",
            "-r",
        ],
        input=secret,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode().strip()


def field_v2_vectors(report: uuid.UUID) -> list[dict]:
    """Sealed fields, version 2: one of each row kind's metadata (docs/crypto.md)."""
    staff = uuid.UUID("7d1e0c4a-2b3c-4d5e-8f60-718293a4b5c6")
    message = uuid.UUID("3a4b5c6d-7e8f-4901-a2b3-c4d5e6f70819")
    blob = uuid.UUID("5c6d7e8f-9011-4213-a4b5-c6d7e8f9a0b1")
    cases = [
        ("report/title", b"Pungutan liar di kelurahan", []),
        (
            f"message/{message}/body",
            (2).to_bytes(4, "big") + b"Kapan kejadian itu?",  # position 2, then the text
            [
                ("author", b"staff"),
                ("account", staff.bytes),
                ("sent_on", b"2025-03-14"),
                ("epoch", (0).to_bytes(4, "big")),
            ],
        ),
        (
            f"message/{message}/body",
            (3).to_bytes(4, "big") + b"Sudah saya jawab.",
            [
                ("author", b"reporter"),
                ("account", b""),
                ("sent_on", b"2025-03-14"),
                ("epoch", (0).to_bytes(4, "big")),
            ],
        ),
        (
            "attachment/9e8d7c6b-5a49-4837-a625-140312f0e1d2/key",
            det("file-key", 32),
            [
                ("message", message.bytes),
                ("uploader", b"reporter"),
                ("blob", blob.bytes),
                ("epoch", (1).to_bytes(4, "big")),
            ],
        ),
        (
            "note/2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901/body",
            b"Cek arsip 2024.",
            [
                ("author", staff.bytes),
                ("written_at", b"2025-03-14T09:26:53.589793Z"),
                ("epoch", (0).to_bytes(4, "big")),
            ],
        ),
    ]
    out = []
    for index, (field, plaintext, bound) in enumerate(cases):
        key, nonce = det("field-key", 32), det(f"field-v2-nonce/{index}", 12)
        out.append(
            {
                "key": key.hex(),
                "nonce": nonce.hex(),
                "report_id": str(report),
                "field": field,
                "bound": [[name, value.hex()] for name, value in bound],
                "plaintext": plaintext.hex(),
                "sealed": _seal_v2(
                    key, nonce, plaintext, report_id=report, field=field, bound=bound
                ).hex(),
            }
        )
    return out


def main() -> None:
    vectors: dict[str, list] = {}

    vectors["argon2id"] = []
    for name, params in [("rfc9106-second", Argon2Params()), ("cheap", Argon2Params(1, 256, 1))]:
        secret, salt = b"kata sandi rahasia", b"sipadu-salt-0001"
        raw = argon2id(secret, salt, params)
        cli = argon2_cli(secret, salt, params)
        assert cli is None or cli == raw.hex(), (cli, raw.hex())
        keys = derive_keys(secret, salt, params)
        vectors["argon2id"].append(
            {
                "name": name,
                "secret": secret.hex(),
                "salt": salt.hex(),
                "time_cost": params.time_cost,
                "memory_kib": params.memory_kib,
                "parallelism": params.parallelism,
                "argon2id": raw.hex(),
                "verifier": keys.verifier.hex(),
                "kek": keys.kek.hex(),
                "record": SecretRecord(params, salt, keys.verifier).to_bytes().hex(),
                "checked_against_argon2_cli": cli is not None,
            }
        )

    params = Argon2Params(1, 256, 1)
    code, salt = b"4820193756120384", b"instance-salt-01"
    vectors["lookup_id"] = [
        {
            "secret": code.hex(),
            "salt": salt.hex(),
            "time_cost": 1,
            "memory_kib": 256,
            "parallelism": 1,
            "lookup_id": lookup_id(code, salt, params).hex(),
        }
    ]

    report = uuid.UUID("1f0c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")
    vectors["hpke_unwrap"] = []
    vectors["private_key_seal"] = []
    for suite in Suite:
        raw = det(f"private/{suite.name}", _PRIVATE_LEN[suite])
        private = PrivateKey(suite, raw)
        key = det(f"case-key/{suite.name}", 32)
        for purpose, epoch in [(Purpose.CASE, 0), (Purpose.IDENTITY, 3)]:
            context = KeyContext(report, purpose, epoch)
            vectors["hpke_unwrap"].append(
                {
                    "suite": suite.name,
                    "private": raw.hex(),
                    "public": private.public_key().to_bytes().hex(),
                    "fingerprint": fingerprint(private.public_key()),
                    "report_id": str(report),
                    "purpose": purpose.value,
                    "epoch": epoch,
                    "key": key.hex(),
                    "wrapped": wrap_key(key, private.public_key(), context).hex(),
                }
            )
        kek, nonce = det("kek", 32), det(f"nonce/{suite.name}", 12)
        vectors["private_key_seal"].append(
            {
                "suite": suite.name,
                "private": raw.hex(),
                "kek": kek.hex(),
                "nonce": nonce.hex(),
                "owner": "staff/7d1e",
                "purpose": "password",
                "sealed": _seal_private_key(
                    private, kek, nonce, owner="staff/7d1e", purpose="password"
                ).hex(),
            }
        )

    vectors["field"] = []
    for field, plaintext in [
        ("identity", b""),
        ("title", b"Pungutan liar di kelurahan"),
        ("what", det("long-text", 300)),
    ]:
        key, nonce = det("field-key", 32), det(f"field-nonce/{field}", 12)
        vectors["field"].append(
            {
                "key": key.hex(),
                "nonce": nonce.hex(),
                "report_id": str(report),
                "field": field,
                "plaintext": plaintext.hex(),
                "sealed": _seal_v1(key, nonce, plaintext, report_id=report, field=field).hex(),
            }
        )

    vectors["field_v2"] = field_v2_vectors(report)

    vectors["stream"] = []
    for size, chunk_size in [(0, 64), (1, 64), (64, 64), (200, 64), (1000, 256)]:
        key, plaintext = det("file-key", 32), det(f"file/{size}", size)
        sink = io.BytesIO()
        with EncryptingWriter(sink, chunk_size, _key=key) as writer:
            writer.write(plaintext)
        vectors["stream"].append(
            {
                "key": key.hex(),
                "chunk_size": chunk_size,
                "plaintext": plaintext.hex(),
                "stream": sink.getvalue().hex(),
            }
        )

    vectors["padme"] = [[n, padme(n)] for n in (0, 1, 2, 9, 100, 1000, 65536, 10**6, 10**9)]

    out = Path(__file__).with_name("crypto.json")
    out.write_text(json.dumps(vectors, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
