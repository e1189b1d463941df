"""Unambiguous encoding of context into AEAD associated data and HPKE ``info``.

Every ciphertext we write is bound to what it belongs to (report, purpose, field,
epoch, format header). The parts are length-prefixed so that no two different
contexts can encode to the same bytes: ``("ab", "c")`` and ``("a", "bc")`` differ.
"""

import struct


def bind(label: str, *parts: bytes) -> bytes:
    """Encode a domain-separation label and context parts, each with a u32 length prefix."""
    out = bytearray()
    for part in (label.encode("ascii"), *parts):
        out += struct.pack(">I", len(part))
        out += part
    return bytes(out)


def text(value: str) -> bytes:
    """Encode a context string (UTF-8)."""
    return value.encode("utf-8")


def u32(value: int) -> bytes:
    """Encode a non-negative integer below 2**32, big-endian."""
    return struct.pack(">I", value)
