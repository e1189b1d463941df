"""age X25519 keys as HPKE keys (issue 18: an outside keyholder of the
conflict-of-interest group reads a report with its own age identity).

An age X25519 recipient (``age1…``) is the raw 32-byte X25519 public key and an age
identity (``AGE-SECRET-KEY-1…``) the raw 32-byte X25519 private key, each encoded in
Bech32 (BIP 173) with the human-readable part ``age`` and ``age-secret-key-`` (age's
format specification, "The X25519 recipient type"). Decoded here into our classical
suite's keys (:data:`Suite.X25519`, HPKE DHKEM(X25519), RFC 9180), so a report key is
wrapped to an outside body exactly as to a staff member, and unwrapped with the body's
own age identity file. pyrage validates recipients elsewhere but gives no raw bytes:
the Bech32 decoding (an encoding, no cryptography) is BIP 173's reference algorithm.
"""

from sipadu.crypto.errors import CryptoError
from sipadu.crypto.keys import PrivateKey, PublicKey, Suite

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
RECIPIENT_HRP = "age"
IDENTITY_HRP = "age-secret-key-"


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= _GENERATOR[i] if (top >> i) & 1 else 0
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_decode(text: str, hrp: str) -> bytes:
    """The bytes of a Bech32 string (BIP 173; all lower or all upper case, checksum
    verified, 8-bit groups with zero padding) whose human-readable part is ``hrp``.
    Raises :class:`CryptoError` for anything else. No length limit of 90: age's
    strings are within it anyway."""
    if text != text.lower() and text != text.upper():
        raise CryptoError("mixed case in a Bech32 string")
    text = text.lower()
    position = text.rfind("1")
    if position < 1 or position + 7 > len(text) or text[:position] != hrp:
        raise CryptoError("not a Bech32 string of the expected kind")
    try:
        data = [_CHARSET.index(c) for c in text[position + 1 :]]
    except ValueError:
        raise CryptoError("a character outside Bech32") from None
    if _polymod(_hrp_expand(hrp) + data) != 1:
        raise CryptoError("the Bech32 checksum does not match")
    accumulator = bits = 0
    out = bytearray()
    for value in data[:-6]:
        accumulator = (accumulator << 5) | value
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((accumulator >> bits) & 0xFF)
    if bits >= 5 or (accumulator << (8 - bits)) & 0xFF:
        raise CryptoError("non-zero Bech32 padding")
    return bytes(out)


def age_public_key(recipient: str) -> PublicKey:
    """The X25519 public key of an age recipient ``age1…`` (classical suite). Raises
    :class:`CryptoError` if it is not one."""
    return PublicKey(Suite.X25519, bech32_decode(recipient.strip(), RECIPIENT_HRP))


def age_private_key(identity: str) -> PrivateKey:
    """The X25519 private key of an age identity ``AGE-SECRET-KEY-1…`` (classical
    suite). Raises :class:`CryptoError` if it is not one."""
    return PrivateKey(Suite.X25519, bech32_decode(identity.strip(), IDENTITY_HRP))
