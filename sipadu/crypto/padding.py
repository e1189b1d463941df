"""Length hiding: ISO/IEC 7816-4 padding, field size buckets and Padmé.

A ciphertext's length is visible to anyone holding the database. Without padding a
short accusation and a long one, or two versions of a leaked document, could be told
apart by size alone. Padding uses ISO/IEC 7816-4 (a 0x80 byte, then zeros), the scheme
libsodium's ``sodium_pad`` uses: unambiguous for any content.
"""

from sipadu.crypto.errors import CryptoError

MARKER = 0x80

# Fields are padded to a power of two, at least this many bytes: a title, a name or an
# empty identity field all look alike, and a 64 KiB text leaks one of ~9 sizes.
MIN_FIELD_BUCKET = 256


def field_bucket(length: int) -> int:
    """Padded size of a field of ``length`` bytes: the smallest power of two that holds it
    plus the padding marker, and never less than ``MIN_FIELD_BUCKET``."""
    return max(MIN_FIELD_BUCKET, 1 << length.bit_length())


def padme(length: int) -> int:
    """Padmé (Nikitin et al., PURBs, PETS 2019): round ``length`` up so that only
    O(log log n) bits of it remain, with at most ~12 % overhead."""
    if length <= 1:
        return max(length, 0)
    exponent = length.bit_length() - 1  # floor(log2 L)
    size_bits = exponent.bit_length()  # floor(log2 E) + 1
    mask = (1 << max(exponent - size_bits, 0)) - 1
    return (length + mask) & ~mask


def pad(data: bytes, size: int) -> bytes:
    """Append the 0x80 marker and zeros up to exactly ``size`` bytes."""
    if size < len(data) + 1:
        raise CryptoError("padding size is too small for the data")
    return data + bytes([MARKER]) + bytes(size - len(data) - 1)


def unpad(padded: bytes) -> bytes:
    """Strip ISO/IEC 7816-4 padding; refuse anything without the marker."""
    stripped = padded.rstrip(b"\x00")
    if not stripped or stripped[-1] != MARKER:
        raise CryptoError("invalid padding")
    return stripped[:-1]
