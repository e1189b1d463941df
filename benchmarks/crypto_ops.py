"""Cost of the per-request crypto operations, for sizing submission and login.

    .venv/bin/python benchmarks/crypto_ops.py

Argon2id at the real parameters (one per staff login, two per mailbox login: lookup id
and key), HPKE wrap/unwrap per suite (one wrap per recipient per key at submission),
field sealing. Baseline in the same run: one X25519 key agreement, the classical cost
the hybrid suite is compared with. Last line: key=value figures.
"""

import time
import uuid

from cryptography.hazmat.primitives.asymmetric import x25519

from sipadu.crypto import (
    DEFAULT_PARAMS,
    KeyContext,
    Purpose,
    Suite,
    hash_secret,
    new_key,
    new_keypair,
    open_field,
    seal_field,
    unwrap_key,
    wrap_key,
)


def per_call_ms(fn, repeat: int) -> float:
    fn()  # warm up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    figures: dict[str, float] = {}
    figures["argon2id_default_ms"] = per_call_ms(lambda: hash_secret(b"passphrase"), 10)
    a, b = x25519.X25519PrivateKey.generate(), x25519.X25519PrivateKey.generate().public_key()
    figures["x25519_exchange_ms"] = per_call_ms(lambda: a.exchange(b), 2000)
    context = KeyContext(uuid.uuid4(), Purpose.CASE, 0)
    for suite in Suite:
        private = new_keypair(suite)
        public, key = private.public_key(), new_key()
        blob = wrap_key(key, public, context)
        name = suite.name.lower()
        figures[f"{name}_keygen_ms"] = per_call_ms(lambda s=suite: new_keypair(s), 200)
        figures[f"{name}_wrap_ms"] = per_call_ms(
            lambda p=public, k=key: wrap_key(k, p, context), 500
        )
        figures[f"{name}_unwrap_ms"] = per_call_ms(
            lambda bl=blob, pr=private: unwrap_key(bl, pr, context), 500
        )
        figures[f"{name}_wrapped_bytes"] = len(blob)
    key, report = new_key(), uuid.uuid4()
    text = "Kepala seksi meminta uang pelicin untuk izin usaha. " * 40
    sealed = seal_field(key, text.encode(), report_id=report, field="what")
    figures["seal_field_2kib_us"] = 1000 * per_call_ms(
        lambda: seal_field(key, text.encode(), report_id=report, field="what"), 5000
    )
    figures["open_field_2kib_us"] = 1000 * per_call_ms(
        lambda: open_field(key, sealed, report_id=report, field="what"), 5000
    )
    figures["argon2_memory_mib"] = DEFAULT_PARAMS.memory_kib / 1024
    for k, v in figures.items():
        print(f"{k:28} {v:10.3f}")
    print(" ".join(f"{k}={v:.3f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
