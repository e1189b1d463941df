"""The one exception type of :mod:`sipadu.crypto`."""


class CryptoError(Exception):
    """Something did not decrypt, verify or parse.

    Every failure of the crypto layer (wrong key, wrong context, tampered or truncated
    ciphertext, unknown format version, malformed input) raises this and nothing else,
    so callers have exactly one thing to catch and can never mistake a failure for an
    empty result. Messages name what failed, never secret material.
    """
