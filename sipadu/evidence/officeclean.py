"""Office (DOCX/XLSX/PPTX) and ODF (ODT/ODS/ODP) files cleaned of their metadata without
rewriting what they say, and the check that what they say survived.

Why not mat2: its rewrite of these files (libmat2 0.13.3, ``office.py`` and
``archive.py``) destroys the document, with any of its ``--unknown-members`` policies
(issue 21, tried with files LibreOffice made):

- its list of OOXML parts to keep has ``(word|ppt|xl)/_rels/document.xml.rels`` only, and
  it omits everything else under ``_rels/``: every XLSX loses
  ``xl/_rels/workbook.xml.rels`` and every PPTX ``ppt/_rels/presentation.xml.rels``, so
  the workbook opens empty and the presentation not at all;
- it drops comments (``comments.xml``; ``comments1.xml``), notes slides, numbering and
  themes, and with ``omit`` every part it does not know, yet keeps the relationships
  and ``w:commentReference`` that point to them: LibreOffice cannot load such a DOCX;
- it "accepts" Word's tracked insertions by inserting their runs at their index in the
  whole tree, i.e. at the end of the paragraph, and drops the deleted text;
- it "sorts" the children of every child of each XML root by tag name, which in
  ``word/document.xml`` moves every table after the last paragraph and the section
  properties;
- it re-serialises XML with ElementTree, which drops namespace declarations no element
  uses: a Calc formula (``of:=SUM(...)``) loses its ``of`` prefix and shows ``Err:510``.

So these files are cleaned here instead, member by member, in the confined child
(:mod:`sipadu.evidence.docclean`); everything not listed below stays byte for byte:

- document properties: OOXML's ``docProps/core.xml`` and ``app.xml`` are replaced by
  empty ones (as mat2 does; they are referenced); metadata parts
  (:data:`REMOVED_PARTS`: ODF's ``meta.xml`` and an embedded object's, thumbnails,
  custom properties, custom XML, printer settings, digital signatures) are removed, and
  with them their relationships (``*.rels``), content-type overrides
  (``[Content_Types].xml``) and manifest entries (``META-INF/manifest.xml``), so nothing
  points to a missing part;
- every XML member is scrubbed by :func:`sipadu.evidence.officescrub.scrub_xml`: comments
  and tracked changes are kept, with their authors blanked and dates removed (a
  reporter's words, and their reviewers', are evidence), and Word's revision session ids,
  document variables and template are removed;
- relationships to the template a Word document was made from (a folder of the user's)
  are removed with the element that refers to them;
- every picture and recording, told by its content (:func:`sipadu.evidence.kinds.detect`,
  whatever its name or folder: ``word/media/``, ``Pictures/``, ``Media/``…), loses its
  metadata: JPEG, PNG, WebP and GIF without being decoded
  (:mod:`sipadu.evidence.picturescrub`); TIFF and HEIF, a JPEG, PNG, WebP or GIF those
  byte walkers refuse, and audio and video
  (:data:`~sipadu.evidence.kinds.RECORDING_KINDS`) by the caller's ``clean_media`` (the
  cleaning child re-encodes pictures and runs ffmpeg or mat2 on recordings,
  :meth:`sipadu.evidence.docclean._Cleaning.clean_member`), which raises what makes the
  whole file kept as sent (malformed, too large, too costly): a member
  that is a picture or a recording is never kept with its metadata while the file is
  called clean. Members of no kind SIPADU cleans (BMP, which holds no metadata; EMF,
  fonts, OLE objects, an AVIF…) stay as they are: the cleaning child reads them again
  with exiftool and reports what still names a person, place or camera as
  :class:`~sipadu.evidence.outcome.Remaining`;
- an office or ODF file embedded in one (a chart's workbook) is cleaned the same way,
  one level deep (deeper ones are kept as they are).

:func:`text_units` is the safety net: the members of a package but its metadata parts, each
with its text (paragraphs, runs, cells' values and formulas, comments, notes; OOXML and
ODF alike) read with expat, in order. Cleaning may only remove metadata: if
the clean file's text differs from the original's, the original is kept
(:class:`~sipadu.evidence.outcome.KeptReason` ``WOULD_DAMAGE``).
"""

import hashlib
import html
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO
from typing import BinaryIO
from urllib.parse import unquote
from xml.parsers import expat

from sipadu.evidence import kinds, officescrub
from sipadu.evidence.outcome import Kind, Removed
from sipadu.evidence.picturescrub import strip_gif, strip_jpeg, strip_png, strip_webp

# Metadata parts removed (with what points to them), and what each is told as.
REMOVED_PARTS: tuple[tuple[re.Pattern[str], Removed], ...] = (
    (re.compile(r"^docProps/custom\.xml$"), Removed.OTHER),
    (re.compile(r"^docProps/thumbnail\.[^/]+$"), Removed.THUMBNAIL),
    (re.compile(r"^customXml/"), Removed.OTHER),
    (re.compile(r"^(?:word|xl|ppt)/printerSettings/"), Removed.OTHER),
    (re.compile(r"^\[trash\]/"), Removed.OTHER),
    # ODF: the document's (what it held is told by properties()) and its objects'
    (re.compile(r"^(?:.+/)?meta\.xml$"), Removed.OTHER),
    (re.compile(r"^Thumbnails/"), Removed.THUMBNAIL),
    (re.compile(r"^layout-cache$"), Removed.OTHER),
    # Digital signatures, which name the signer (an XML-DSig certificate's subject,
    # Office's SignatureComments) and which any change breaks anyway: OOXML's
    # (ECMA-376 part 2, 12) and ODF's (ODF 1.3 part 2, 4.4: document and macro).
    (re.compile(r"^_xmlsignatures/"), Removed.AUTHOR),
    (re.compile(r"^META-INF/(?:document|macro)signatures\.xml$"), Removed.AUTHOR),
)
# Members replaced by empty ones (they are required or referenced).
EMPTY_CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties'
    b' xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"/>'
)
EMPTY_APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns='
    b'"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"/>'
)
REPLACED_PARTS = {"docProps/core.xml": EMPTY_CORE, "docProps/app.xml": EMPTY_APP}
# Relationships removed whatever their target: the template a document was made from.
REMOVED_RELATIONSHIP_TYPES = ("/attachedTemplate",)
# Entries of package indexes that point to a part: (element, attribute naming the part).
_INDEX_ENTRY = re.compile(
    r"<(?P<name>(?:[\w.-]+:)?(?:Relationship|Override|file-entry))\b"
    r"(?P<attributes>(?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(?:/>|>.*?</(?P=name)\s*>)",
    re.DOTALL,
)
_ATTRIBUTE = re.compile(r"(?P<name>[^\s=/]+)\s*=\s*(?P<value>\"[^\"]*\"|'[^']*')")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Pictures stripped here without being decoded, and the extension exiftool reads them by.
PICTURE_STRIPPERS: dict[Kind, tuple[Callable[[bytes], tuple[bytes, bool]], str]] = {
    Kind.JPEG: (strip_jpeg, ".jpg"),
    Kind.PNG: (strip_png, ".png"),
    Kind.WEBP: (strip_webp, ".webp"),
    Kind.GIF: (strip_gif, ".gif"),
}
# Members cleaned by the caller's clean_media (or, for PICTURE_STRIPPERS, here).
MEDIA_KINDS = kinds.IMAGE_KINDS | kinds.RECORDING_KINDS
NESTED_SUFFIXES = (".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".pptm", ".odt", ".ods", ".odp")
MAX_NESTED_MEMBERS = 10_000

# What the text of a document is made of (local names, any prefix): paragraphs and
# headings (w:p, a:p, text:p, text:h) whole, so that words moved inside one are seen, and
# runs, cell values and formulas (w:t, a:t, sharedStrings' t, c:v, v, f…).
TEXT_ELEMENTS = frozenset({"p", "h", "t", "delText", "instrText", "v", "f"})
# ODF cells keep their value and formula in attributes.
TEXT_ATTRIBUTES = frozenset(
    {"value", "date-value", "time-value", "boolean-value", "string-value", "formula"}
)
# Metadata inside the text (a comment's or change's author and date): not text.
NOT_TEXT = officescrub.PERSON_ELEMENTS
_TAG = re.compile(r"<[^>]*>")


class Costly(Exception):
    """An embedded document would unpack to more than the budget left."""


class WouldDamage(Exception):
    """The clean copy's text differs from the original's."""


CleanMedia = Callable[[Kind, bytes], tuple[bytes, set[Removed]]]
"""Cleans one embedded picture or recording of that kind (:data:`MEDIA_KINDS`): its
bytes without metadata, and the categories removed. Raises what keeps the whole file as
sent (ValueError, or the caller's own exceptions, which pass through)."""


def no_media(kind: Kind, data: bytes) -> tuple[bytes, set[Removed]]:
    """The :data:`CleanMedia` of a caller that cleans no media: refuses each one."""
    raise ValueError(f"no cleaner for an embedded {kind}")


@dataclass
class Result:
    """What cleaning a package found: the categories removed, and the first pictures
    whose metadata was stripped (their original bytes and extension, to be read)."""

    removed: set[Removed] = field(default_factory=set)
    pictures: list[tuple[bytes, str]] = field(default_factory=list)


def clean_package(
    source: str,
    target: str,
    budget: int,
    max_pictures: int = 5,
    clean_media: CleanMedia = no_media,
) -> Result:
    """Write the office or ODF package ``source`` to ``target`` without its metadata (see
    the module's docstring); what was removed. ``budget``: the bytes an embedded
    document may unpack to (the caller checked ``source`` itself); ``clean_media``
    cleans the pictures not stripped here and the recordings. Raises :class:`Costly`,
    :class:`WouldDamage` (an embedded document's text changed), ValueError or
    ``zipfile.BadZipFile`` for what cannot be read, and what ``clean_media`` raises."""
    result = Result()
    media = _Media(result, budget, max_pictures, clean_media)
    with zipfile.ZipFile(source) as archive, open(target, "wb") as out:
        _clean(archive, out, media, nested=False)
    return result


@dataclass
class _Media:
    """What cleaning the members of one package needs besides the members."""

    result: Result
    budget: int
    max_pictures: int
    clean_media: CleanMedia


def _removed_part(name: str) -> Removed | None:
    for pattern, removed in REMOVED_PARTS:
        if pattern.search(name):
            return removed
    return None


def _clean(archive: zipfile.ZipFile, out: BinaryIO, media: _Media, nested: bool) -> None:
    result = media.result
    members = [m for m in archive.infolist() if not m.is_dir()]
    removed = set()
    for member in members:
        what = _removed_part(member.filename)
        if what is not None:
            removed.add(member.filename)
            result.removed.add(what)
    # ODF: the mimetype first and stored (ODF 1.3 part 2, 3.3).
    members.sort(key=lambda m: m.filename != "mimetype")
    with zipfile.ZipFile(out, "w") as written:
        for member in members:
            if member.filename in removed:
                continue
            data = archive.read(member)
            if member.filename in REPLACED_PARTS:
                data = REPLACED_PARTS[member.filename]  # what it held: properties()
            elif officescrub.is_xml_member(member.filename, data):
                data = _index_without(member.filename, data, removed, result)
                data, found = officescrub.scrub_xml(data)
                result.removed |= found
            else:
                data = _member(member.filename, data, media, nested)
            info = zipfile.ZipInfo(member.filename, date_time=ZIP_EPOCH)
            info.external_attr = member.external_attr
            info.create_system = 3  # Unix, as mat2 writes it
            stored = member.filename == "mimetype"
            compression = zipfile.ZIP_STORED if stored else member.compress_type
            written.writestr(info, data, compress_type=compression)


def _member(name: str, data: bytes, media: _Media, nested: bool) -> bytes:
    """A picture or recording without its metadata, an embedded document cleaned,
    anything else as it is."""
    result = media.result
    kind = kinds.detect(data[: kinds.HEAD_BYTES])
    if kind in PICTURE_STRIPPERS:
        strip, suffix = PICTURE_STRIPPERS[kind]
        try:
            stripped, dropped = strip(data)
        except ValueError:
            pass  # walked strictly (junk between segments, cut off): cleaned below
        else:
            if dropped:
                if len(result.pictures) < media.max_pictures:
                    result.pictures.append((data, suffix))
                else:
                    result.removed.add(Removed.OTHER)
            return stripped
    if kind in MEDIA_KINDS:
        cleaned, found = media.clean_media(kind, data)
        result.removed |= found
        return cleaned
    if not nested and data.startswith(b"PK\x03\x04") and name.lower().endswith(NESTED_SUFFIXES):
        return _clean_nested(data, media)
    return data


def _clean_nested(data: bytes, media: _Media) -> bytes:
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile:
        return data  # not a package: kept as it is
    with archive:
        members = archive.infolist()
        if (
            len(members) > MAX_NESTED_MEMBERS
            or sum(member.file_size for member in members) > media.budget
        ):
            raise Costly()
        before = _units(archive)
        out = BytesIO()
        _clean(archive, out, media, nested=True)
    with zipfile.ZipFile(BytesIO(out.getvalue())) as written:
        if _units(written) != before:
            raise WouldDamage()
    return out.getvalue()


def _index_without(name: str, data: bytes, removed: set[str], result: Result) -> bytes:
    """A package index (relationships, content types, ODF manifest) without the entries
    that point to a removed part or are removed relationships; other members as they
    are."""
    is_rels = name.endswith(".rels")
    if not (is_rels or name == "[Content_Types].xml" or name == "META-INF/manifest.xml"):
        return data
    try:
        text, codec = officescrub.decode(data)
    except UnicodeDecodeError:
        raise ValueError("undecodable package index") from None
    folder = posixpath.dirname(posixpath.dirname(name))  # word/_rels/x.rels: word
    changed = False

    def keep(match: re.Match[str]) -> str:
        nonlocal changed
        values = {
            attribute.group("name").rpartition(":")[2]: html.unescape(
                attribute.group("value")[1:-1]
            )
            for attribute in _ATTRIBUTE.finditer(match.group("attributes"))
        }
        local = match.group("name").rpartition(":")[2]
        if local == "Relationship":
            if values.get("Type", "").endswith(REMOVED_RELATIONSHIP_TYPES):
                result.removed.add(Removed.EDIT_HISTORY)
                changed = True
                return ""
            if values.get("TargetMode") == "External":
                return match.group(0)
            target = unquote(values.get("Target", ""))
            part = target[1:] if target.startswith("/") else posixpath.join(folder, target)
            part = posixpath.normpath(part)
        elif local == "Override":
            part = unquote(values.get("PartName", ""))[1:]
        else:  # an ODF manifest entry: a part, or a folder of parts
            part = values.get("full-path", "")
            if part.endswith("/") and any(r.startswith(part) for r in removed):
                part = next(r for r in removed if r.startswith(part))
        if part in removed:
            changed = True
            return ""
        return match.group(0)

    text = _INDEX_ENTRY.sub(keep, text)
    return text.encode(codec) if changed else data


# The members whose elements are the document's properties: OOXML's core, extended and
# custom properties (ECMA-376 part 2, 11; part 1, 22.2 and 22.3), ODF's meta.xml (ODF
# 1.3 part 3, 4), an embedded object's too.
PROPERTY_MEMBERS = re.compile(r"^(?:docProps/(?:core|app|custom)\.xml|(?:.+/)?meta\.xml)$")
UNIX = 3  # ZipInfo.create_system of a member written on Unix (as cleaning writes them)


def properties(path: str) -> list[tuple[str, str]]:
    """What the office or ODF package at ``path`` says of itself, as (field, value)
    pairs: each element of its property members (:data:`PROPERTY_MEMBERS`) with text,
    named as written (``dc:creator``, ``Company``, ``meta:generator``; a custom property
    by its ``name``), and of each member the system it was added on (``create_system``,
    unless Unix) and its time (``date_time``, unless the ZIP epoch). No member is parsed
    by its name's type (a picture is no property: what pictures hold is read from their
    content, :func:`clean_package`). Raises ValueError (or BadZipFile) for a package or
    property member that cannot be read."""
    found: list[tuple[str, str]] = []
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            if member.create_system != UNIX:
                found.append(("create_system", str(member.create_system)))
            if member.date_time != ZIP_EPOCH:
                year, month, day, hour, minute, second = member.date_time
                when = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
                found.append(("date_time", when))
            if PROPERTY_MEMBERS.match(member.filename):
                found.extend(_property_elements(archive.read(member)))
    return found


def _property_elements(data: bytes) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    open_elements: list[tuple[str, list[str]]] = []  # (name, text) of each open element

    def start(name: str, attributes: dict[str, str]) -> None:
        named = attributes.get("name") or attributes.get("meta:name")
        open_elements.append((named or name, []))

    def end(_name: str) -> None:
        name, text = open_elements.pop()
        value = "".join(text).strip()
        if value:
            found.append((name, value))

    def characters(data: str) -> None:
        if open_elements:
            open_elements[-1][1].append(data)

    try:
        officescrub.guarded_parse(data, start, end, characters)
    except expat.ExpatError:
        raise ValueError("unreadable property member") from None
    return found


def text_units(path: str) -> dict[str, bytes]:
    """What the office or ODF package at ``path`` says (see the module's docstring): for
    each member but the metadata parts (:data:`REMOVED_PARTS`, :data:`REPLACED_PARTS`)
    a digest of its texts in document order (each paragraph's, run's or value's text
    with its white space collapsed; empty for a member that is not XML). Two packages
    with the same units have the same members (less metadata) saying the same words in
    the same order: a lost part, comment or notes page, and words or paragraphs moved,
    are told apart. Raises ValueError (or BadZipFile) for what cannot be read."""
    with zipfile.ZipFile(path) as archive:
        return _units(archive)


def _units(archive: zipfile.ZipFile) -> dict[str, bytes]:
    units = {}
    for member in archive.infolist():
        name = member.filename
        if member.is_dir() or name in REPLACED_PARTS or _removed_part(name) is not None:
            continue
        digest = hashlib.blake2b(digest_size=32)
        data = archive.read(member)
        if officescrub.is_xml_member(name, data):
            for text in member_text(data):
                digest.update(text.encode() + b"\0")
        units[name] = digest.digest()
    return units


def member_text(data: bytes) -> Iterable[str]:
    """The texts of one XML member (:data:`TEXT_ELEMENTS`, :data:`TEXT_ATTRIBUTES`), each
    with its white space collapsed, empty ones left out, and its namespace declarations
    (a formula's ``of:`` prefix is declared by one no element uses). A member expat
    cannot parse (VML often is not well-formed) is one text: its characters outside
    markup."""
    texts: list[str] = []
    open_units: list[list[str]] = []  # the text of each open text element
    stack: list[bool] = []  # whether each open element is a text element
    hidden = [0]  # how many open elements are (inside) metadata
    names = [""]  # local names of the open elements

    def declare(prefix: str | None, uri: str) -> None:
        texts.append(f"xmlns:{prefix or ''}={uri}")

    def start(name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        metadata = (
            local in NOT_TEXT
            or (local == "date" and names[-1] in officescrub.CHANGE_ELEMENTS)
            or (local == "author" and names[-1] in officescrub.AUTHOR_LISTS)
        )
        hidden.append(hidden[-1] + metadata)
        names.append(local)
        for key, value in attributes.items():
            if key.rpartition(" ")[2] in TEXT_ATTRIBUTES:
                texts.append(value)
        is_text = local in TEXT_ELEMENTS
        stack.append(is_text)
        if is_text:
            open_units.append([])

    def end(name: str) -> None:
        hidden.pop()
        names.pop()
        if stack.pop():
            texts.append("".join(open_units.pop()))

    def characters(data: str) -> None:
        if not hidden[-1]:
            for unit in open_units:
                unit.append(data)

    try:
        officescrub.guarded_parse(data, start, end, characters, " ", declare)
    except expat.ExpatError:
        text, _ = officescrub.decode(data)
        texts = [_TAG.sub(" ", text)]
    return [collapsed for text in texts if (collapsed := " ".join(text.split()))]
