"""Cleaning one evidence file of its hidden data, whatever its type: the dispatch from a
file's kind (told from its content, :mod:`sipadu.evidence.kinds`) to the confined child
that cleans it, and from what that child says to the :class:`~sipadu.evidence.outcome.
Outcome` both portals show per file (issue 21).

Images (:data:`~sipadu.evidence.kinds.IMAGE_KINDS`) go to :mod:`sipadu.evidence.imagestrip`
under :attr:`CleaningLimits.image`; documents, audio and video to
:mod:`sipadu.evidence.docclean` under :attr:`CleaningLimits.document`; a file of no kind
SIPADU recognises is kept as sent without starting any child. A file that cannot be
cleaned is never refused: it is kept as sent, with why (:class:`~sipadu.evidence.outcome.
KeptReason`). The refusals that pass through are the request's budgets: of pixels
(:class:`~sipadu.evidence.imagestrip.OverBudget`) and of document cleaning time
(:class:`~sipadu.evidence.docclean.OverBudget`, with a :class:`~sipadu.evidence.
confinement.TimeBudget`): they bound what one request may cost, and are answered as
such by the caller.

The caller streams the file in (``pieces``, never held whole here) and takes the clean
copy out through ``write`` as the child produces it; what ``write`` raises stops the
child and is raised from :func:`clean`.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sipadu.evidence import docclean, imagestrip
from sipadu.evidence.confinement import Confinement, TimeBudget
from sipadu.evidence.kinds import IMAGE_KINDS, UNCLEANED_KINDS
from sipadu.evidence.outcome import KeptAsSent, KeptReason, Kind, Outcome
from sipadu.settings.config import Config

MAX_PIXELS = 50_000_000  # one larger picture is kept as sent, too large to clean

Pieces = Iterable[bytes | memoryview]
Write = Callable[[bytes], object]


@dataclass(frozen=True)
class CleaningLimits:
    """What one cleaning child may cost: ``image`` (address space, CPU seconds, no file)
    for pictures, ``document`` for documents, audio and video (mat2 and ffmpeg write
    their copy in a scratch folder: ``file_bytes`` bounds it), and ``max_pixels``, the
    most pixels one picture may have to be cleaned."""

    image: Confinement
    document: Confinement
    max_pixels: int = MAX_PIXELS


def cleaning_limits(config: Config) -> CleaningLimits:
    """The children's limits: ``SIPADU_IMAGE_CLEANER_MEMORY_MIB`` and ``_CPU_SECONDS``
    for pictures, ``SIPADU_DOCUMENT_CLEANER_MEMORY_MIB`` and ``_CPU_SECONDS`` for the
    rest, whose scratch files are bounded by what the largest file one form may carry
    needs (:func:`sipadu.evidence.docclean.file_bytes_for`)."""
    image = Confinement(config.image_cleaner_memory_bytes, config.image_cleaner_cpu_seconds)
    document = Confinement(
        config.document_cleaner_memory_bytes,
        config.document_cleaner_cpu_seconds,
        docclean.file_bytes_for(config.max_file_bytes),
    )
    return CleaningLimits(image=image, document=document)


def cleanable(kind: Kind | None) -> bool:
    """Whether a file of ``kind`` goes to a cleaning child (and so needs a slot of the
    host-wide pool, and its bytes read back): every kind SIPADU recognises, but those it
    does not clean (:data:`~sipadu.evidence.kinds.UNCLEANED_KINDS`)."""
    return kind is not None and kind not in UNCLEANED_KINDS


def not_cleaned(kind: Kind | None, head: bytes) -> KeptAsSent:
    """What is said of a file no child cleans (``kind`` not :func:`cleanable`, ``head``
    its first bytes): an older office format or RTF, which keeps who made it; a ZIP
    whose members are all known and none is a document (an archive: the files in it are
    not cleaned); anything else, a type SIPADU does not clean."""
    if kind in UNCLEANED_KINDS:
        return KeptAsSent(kind, KeptReason.OLD_FORMAT)
    if kind is None and head.startswith(b"PK\x03\x04"):
        return KeptAsSent(Kind.ZIP, KeptReason.UNKNOWN_TYPE)
    return KeptAsSent(kind, KeptReason.UNKNOWN_TYPE)


def clean(
    pieces: Pieces,
    kind: Kind | None,
    pixels_left: int,
    limits: CleaningLimits,
    write: Write,
    seconds: TimeBudget | None = None,
) -> Outcome:
    """Clean the file ``pieces`` (its plaintext, in order) of ``kind`` in a confined
    child, passing the clean copy to ``write`` as it comes. Returns :class:`Cleaned`
    (then what ``write`` received is the whole clean file) or :class:`KeptAsSent` (then
    whatever ``write`` received must be thrown away): unknown type (``kind`` None, no
    child started), unreadable (damaged, or not what its signature says), too large
    (more pixels than :attr:`CleaningLimits.max_pixels` or than the child's memory
    fits), too costly (killed by its CPU or memory limit), would damage (the clean copy
    would lose some of what the original shows or holds, its text, pictures or attached
    files, or misstate its length: only metadata may go); a :attr:`Kind.ZIP`
    comes back with its real kind, or kept as sent (unknown type) if it is no document.
    Raises
    :class:`~sipadu.evidence.imagestrip.OverBudget` for a picture of more than
    ``pixels_left`` pixels, :class:`~sipadu.evidence.docclean.OverBudget` for a document
    once the request's ``seconds`` are spent (each document child is charged to it),
    and whatever ``write`` raises."""
    if kind is None or not cleanable(kind):
        return not_cleaned(kind, b"")
    if kind in IMAGE_KINDS:
        return _image(pieces, kind, pixels_left, limits, write)
    return _document(pieces, kind, limits, write, seconds)


def _image(
    pieces: Pieces, kind: Kind, pixels_left: int, limits: CleaningLimits, write: Write
) -> Outcome:
    try:
        return imagestrip.clean(pieces, limits.max_pixels, pixels_left, limits.image, write)
    except imagestrip.TooCostly:
        return KeptAsSent(kind, KeptReason.TOO_COSTLY)
    except imagestrip.WouldDamage:
        return KeptAsSent(kind, KeptReason.WOULD_DAMAGE)
    except imagestrip.NotCleanable:
        return KeptAsSent(kind, KeptReason.UNREADABLE)
    except imagestrip.TooLarge:
        return KeptAsSent(kind, KeptReason.TOO_LARGE)


def _document(
    pieces: Pieces, kind: Kind, limits: CleaningLimits, write: Write, seconds: TimeBudget | None
) -> Outcome:
    # The kind a failure names is the file's (a ZIP's real kind, once the child read it).
    try:
        return docclean.clean(pieces, kind, limits.document, write, budget=seconds)
    except docclean.NotADocument as failed:
        return KeptAsSent(failed.kind, KeptReason.UNKNOWN_TYPE)  # a plain archive
    except docclean.NotCleanable as failed:
        return KeptAsSent(failed.kind, KeptReason.UNREADABLE, failed.remaining)
    except docclean.TooCostly as failed:
        return KeptAsSent(failed.kind, KeptReason.TOO_COSTLY, failed.remaining)
    except docclean.TooLarge as failed:  # a picture inside an office or ODF file
        return KeptAsSent(failed.kind, KeptReason.TOO_LARGE, failed.remaining)
    except docclean.WouldDamage as failed:
        return KeptAsSent(failed.kind, KeptReason.WOULD_DAMAGE, failed.remaining)
