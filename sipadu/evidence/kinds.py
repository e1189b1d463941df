"""The type of an evidence file, told from its first bytes (never from its name or the
type the browser declared: a photo sent as ``bukti`` with ``application/octet-stream``
is still a JPEG).

Stand-in of issue 21's pipeline part: JPEG, PNG and WebP by their signatures only (JPEG:
ITU T.81 SOI marker; PNG: RFC 2083 §3.1 signature; WebP: RIFF container with a ``WEBP``
form type, RFC 9649 §2). Part A1 replaces this module with the full detection (same
names: :data:`HEAD_BYTES`, :func:`detect`, :data:`IMAGE_KINDS`, :data:`DOCUMENT_KINDS`).
"""

from sipadu.evidence.outcome import Kind

HEAD_BYTES = 8192  # the first bytes of each file kept while it arrives, for detect()

IMAGE_KINDS: frozenset[Kind] = frozenset(
    {Kind.JPEG, Kind.PNG, Kind.WEBP, Kind.GIF, Kind.TIFF, Kind.HEIF}
)
DOCUMENT_KINDS: frozenset[Kind] = frozenset(Kind) - IMAGE_KINDS


def detect(head: bytes) -> Kind | None:
    """The kind of a file whose first bytes (up to :data:`HEAD_BYTES`) are ``head``, or
    None for a type SIPADU does not recognise."""
    if head.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Kind.WEBP
    return None
