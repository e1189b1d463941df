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
  custom properties, custom XML, printer settings) are removed, and with them their
  relationships (``*.rels``), content-type overrides (``[Content_Types].xml``) and
  manifest entries (``META-INF/manifest.xml``), so nothing points to a missing part;
- every XML member is scrubbed by :func:`sipadu.evidence.officescrub.scrub_xml`: comments
  and tracked changes are kept, with their authors blanked and dates removed (a
  reporter's words, and their reviewers', are evidence), and Word's revision session ids,
  document variables and template are removed;
- relationships to the template a Word document was made from (a folder of the user's)
  are removed with the element that refers to them;
- JPEG and PNG pictures lose their metadata without being decoded
  (:mod:`sipadu.evidence.picturescrub`); other pictures are kept as they are;
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from typing import BinaryIO
from urllib.parse import unquote
from xml.parsers import expat

from sipadu.evidence import officescrub
from sipadu.evidence.outcome import Removed
from sipadu.evidence.picturescrub import strip_jpeg, strip_png

# Metadata parts removed (with what points to them), and what each is told as.
REMOVED_PARTS: tuple[tuple[re.Pattern[str], Removed], ...] = (
    (re.compile(r"^docProps/custom\.xml$"), Removed.OTHER),
    (re.compile(r"^docProps/thumbnail\.[^/]+$"), Removed.THUMBNAIL),
    (re.compile(r"^customXml/"), Removed.OTHER),
    (re.compile(r"^(?:word|xl|ppt)/printerSettings/"), Removed.OTHER),
    (re.compile(r"^\[trash\]/"), Removed.OTHER),
    # ODF: the document's (what it held is told by mat2's listing) and its objects'
    (re.compile(r"^(?:.+/)?meta\.xml$"), Removed.OTHER),
    (re.compile(r"^Thumbnails/"), Removed.THUMBNAIL),
    (re.compile(r"^layout-cache$"), Removed.OTHER),
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


@dataclass
class Result:
    """What cleaning a package found: the categories removed, and the first pictures
    whose metadata was stripped (their original bytes and extension, to be read)."""

    removed: set[Removed] = field(default_factory=set)
    pictures: list[tuple[bytes, str]] = field(default_factory=list)


def clean_package(source: str, target: str, budget: int, max_pictures: int = 5) -> Result:
    """Write the office or ODF package ``source`` to ``target`` without its metadata (see
    the module's docstring); what was removed. ``budget``: the bytes an embedded
    document may unpack to (the caller checked ``source`` itself). Raises
    :class:`Costly`, :class:`WouldDamage` (an embedded document's text changed),
    ValueError or ``zipfile.BadZipFile`` for what cannot be read."""
    result = Result()
    with zipfile.ZipFile(source) as archive, open(target, "wb") as out:
        _clean(archive, out, result, budget, max_pictures, nested=False)
    return result


def _removed_part(name: str) -> Removed | None:
    for pattern, removed in REMOVED_PARTS:
        if pattern.search(name):
            return removed
    return None


def _clean(
    archive: zipfile.ZipFile,
    out: BinaryIO,
    result: Result,
    budget: int,
    max_pictures: int,
    nested: bool,
) -> None:
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
                data = REPLACED_PARTS[member.filename]  # what it held: mat2's listing
            elif officescrub.is_xml_member(member.filename, data):
                data = _index_without(member.filename, data, removed, result)
                data, found = officescrub.scrub_xml(data)
                result.removed |= found
            else:
                data = _media(member.filename, data, result, budget, max_pictures, nested)
            info = zipfile.ZipInfo(member.filename, date_time=ZIP_EPOCH)
            info.external_attr = member.external_attr
            info.create_system = 3  # Unix, as mat2 writes it
            stored = member.filename == "mimetype"
            compression = zipfile.ZIP_STORED if stored else member.compress_type
            written.writestr(info, data, compress_type=compression)


def _media(
    name: str, data: bytes, result: Result, budget: int, max_pictures: int, nested: bool
) -> bytes:
    """A picture without its metadata, an embedded document cleaned, anything else as it
    is."""
    strippers = ((b"\xff\xd8\xff", strip_jpeg, ".jpg"), (b"\x89PNG", strip_png, ".png"))
    for magic, strip, suffix in strippers:
        if data.startswith(magic):
            try:
                stripped, dropped = strip(data)
            except ValueError:
                return data  # not what it starts as: kept as it is, as any other member
            if dropped:
                if len(result.pictures) < max_pictures:
                    result.pictures.append((data, suffix))
                else:
                    result.removed.add(Removed.OTHER)
            return stripped
    if not nested and data.startswith(b"PK\x03\x04") and name.lower().endswith(NESTED_SUFFIXES):
        return _clean_nested(data, result, budget, max_pictures)
    return data


def _clean_nested(data: bytes, result: Result, budget: int, max_pictures: int) -> bytes:
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile:
        return data  # not a package: kept as it is
    with archive:
        members = archive.infolist()
        if (
            len(members) > MAX_NESTED_MEMBERS
            or sum(member.file_size for member in members) > budget
        ):
            raise Costly()
        before = _units(archive)
        out = BytesIO()
        _clean(archive, out, result, budget, max_pictures, nested=True)
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

    parser = officescrub.guarded_parser(namespace_separator=" ")
    parser.StartNamespaceDeclHandler = declare
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except expat.ExpatError:
        text, _ = officescrub.decode(data)
        texts = [_TAG.sub(" ", text)]
    return [collapsed for text in texts if (collapsed := " ".join(text.split()))]
