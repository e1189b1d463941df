"""The names of people and their folders that office and ODF files keep outside their
document properties, removed from each XML member, and a last look for any left.

Besides the document properties (``docProps/``, ``meta.xml``: replaced or removed by
:mod:`sipadu.evidence.officeclean`), the XML keeps who did what (issue 21 review):

- Word's comments and tracked changes: insertions, deletions and formatting changes
  (``w:ins``, ``w:del``, ``w:rPrChange``, ``w:pPrChange``, ``w:sectPrChange``,
  ``w:tblPrChange``…) in the body, headers, footers, footnotes and endnotes, each with
  ``w:author`` and ``w:date`` (ECMA-376 part 1, 17.13.4 and 17.13.5), and the people
  lists of comments;
- Word's document variables (``w:docVars`` in ``word/settings.xml``, 17.15.1.40), which
  templates and mail merges fill with names;
- Excel's saved-in folder (``x15ac:absPath``, MS-XLSX 2.6.133: ``C:\\Users\\NAME\\…``) and
  the user who reserved the workbook (``fileSharing userName``, ECMA-376 18.2.12);
- OpenDocument comments and tracked changes (``office:annotation`` and
  ``office:change-info`` with ``dc:creator`` and ``dc:date``, ODF 1.3 part 3, 14.1 and
  5.5.3);
- LibreOffice's printer in ``settings.xml`` (the ``config:config-item`` named
  ``PrinterName``, and ``PrinterSetup``, its driver settings with the name again, in
  base64): an office's or a person's printer ("HP LaserJet Ruang Inspektur"). Both
  are written empty when no printer is set, as they are left.

:func:`scrub_xml` scrubs one XML member (:mod:`sipadu.evidence.officeclean` calls it
for each member of the archive). The markup is walked with a tokenizer (no XML library
re-serialises it: ElementTree would rename prefixes, and Word refuses some of its files
so rewritten); everything but what is removed stays byte for byte. Names are matched by
their local name, whatever the prefix:

- attributes naming a person (:data:`PERSON_ATTRIBUTES`) are blanked (``w:author`` is
  required, so it is kept, empty); an element that has one loses its date attributes
  (:data:`DATE_ATTRIBUTES`, optional in both schemas, and an empty ``xsd:dateTime`` is
  not valid); the attributes of people lists (:data:`PEOPLE_ELEMENTS`) are blanked too;
- optional elements that hold names or folders (:data:`REMOVED_ELEMENTS`, and a people
  list's entries) are removed, with the markup-compatibility wrapper Excel writes around
  ``absPath``;
- the text of elements naming a person (:data:`PERSON_ELEMENTS`, and Excel's comment
  authors) is blanked anywhere; a ``date`` directly inside a change or comment
  (:data:`CHANGE_ELEMENTS`) becomes :data:`NEUTRAL_DATE`.

:func:`leftovers` then reads the result with an XML parser (expat, namespace prefixes as
written) and lists any attribute or element of those names still holding a value, so that
what this module did not foresee is at least told to the reporter.
"""

import codecs
import re
import zipfile
from collections.abc import Callable, Iterator
from urllib.parse import quote as quote_path
from urllib.parse import unquote
from xml.parsers import expat

from sipadu.evidence.outcome import Removed

# Attributes whose value names a person (by local name, in any element); Excel's
# ``refreshedBy`` is the user who last refreshed a pivot table (ECMA-376 part 1,
# 18.10.1.67), written again at every refresh.
PERSON_ATTRIBUTES = frozenset(
    {"author", "initials", "userName", "creator", "lastModifiedBy", "refreshedBy"}
)
# Attributes removed from an element that names a person (the time of a change).
DATE_ATTRIBUTES = frozenset({"date", "dateUtc", "dateTime"})
# Entries of people lists (Word's w15:person, PowerPoint's p:cmAuthor and p188:author,
# Excel's threaded-comment persons and a shared workbook's users, ``userInfo``, ECMA-376
# 18.11.2.3) and Word's editing exceptions for one person (``w:permStart w:ed``,
# 17.13.7.2: DOMAIN\\user): every attribute that names or identifies is blanked.
PEOPLE_ELEMENTS = frozenset({"person", "cmAuthor", "author", "userInfo", "permStart"})
PEOPLE_ATTRIBUTES = frozenset({"name", "displayName", "userId", "providerId", "ed"})
# Optional elements removed with everything inside them: Word's document variables, the
# revision session ids of its settings (``w:rsids``, 17.15.1.72) and the template it was
# made from (``w:attachedTemplate``, 17.15.1.6: a folder of the user's, by relationship),
# Excel's saved-in folder and reservation, PowerPoint's presence of authors.
REMOVED_ELEMENTS = frozenset(
    {"docVars", "rsids", "attachedTemplate", "absPath", "fileSharing", "presenceInfo"}
)
# Attributes removed wherever they are, by the start of their local name: Word's revision
# session ids (``w:rsidR``, ``w:rsidRPr``…, 17.3.1.22), which tie a document to the other
# documents edited in the same session.
REMOVED_ATTRIBUTE_PREFIX = "rsid"
# LibreOffice's printer settings (config:config-item, by its config:name), emptied.
PRINTER_ITEMS = ("PrinterName", "PrinterSetup")
PRINTER_ITEM = re.compile(rf"""\s[\w.-]+:name\s*=\s*["'](?:{"|".join(PRINTER_ITEMS)})["']""")
# Elements whose text names a person, anywhere.
PERSON_ELEMENTS = frozenset(
    {"creator", "initial-creator", "creator-initials", "sender-initials", "lastModifiedBy"}
)
# Elements of a change or a comment whose direct ``date`` child is replaced by
# :data:`NEUTRAL_DATE`: a change's date is required (ODF 1.3 part 3, 5.5.3.2), and
# LibreOffice loses the place of a deletion whose date is empty.
CHANGE_ELEMENTS = frozenset({"change-info", "annotation"})
NEUTRAL_DATE = "1970-01-01T00:00:00"
# Lists whose ``author`` children's text names a person (Excel's comments, ECMA-376
# 18.7.2: a comment refers to its author by index, so the entries stay, empty).
AUTHOR_LISTS = frozenset({"authors"})
# What each kind of removal is told to the reporter as.
FOUND_AS = {
    "person": Removed.AUTHOR,
    "date": Removed.DATES,
    "docVars": Removed.OTHER,
    "rsids": Removed.EDIT_HISTORY,
    "attachedTemplate": Removed.EDIT_HISTORY,
    "absPath": Removed.AUTHOR,  # the saved-in folder holds the Windows user's name
    "fileSharing": Removed.AUTHOR,
    "presenceInfo": Removed.AUTHOR,
    "config-item": Removed.OTHER,  # the printer's name
}
# Members read as XML: by their name, or by how they begin.
XML_SUFFIXES = (".xml", ".rels", ".vml")
MAX_LEFTOVERS = 10
# A user account's folder in a local path or file URL, which a hyperlink, a linked
# picture, an external workbook's path or a formula's reference keeps: the account is
# usually the person's name. A path segment "Users", "home", "Documents and Settings" or
# "media" (Linux mounts a USB stick at /media/NAME, /run/media/NAME) and the next one,
# with any segments before them (file://server/Users/NAME, /Volumes/Disk/Users/NAME,
# WSL's /mnt/c/Users/NAME), in a path that begins with a drive letter, a file URL's
# scheme, a UNC server (\\server\Users\NAME) or, in a quoted value, "../" (LibreOffice
# saves a link relative to the document: ../../home/NAME/Documents/a.pdf) or "/" (these
# two only with a file inside: ../media/image1.png is an OOXML part). Separators may be
# percent-encoded (%5C, %2F). Also a OneDrive for Business site's address
# (TENANT-my.sharepoint.com/personal/NAME_domain) and a personal OneDrive's
# (d.docs.live.net/CID: the account's id). A web address's "/home/" is no one's folder.
_SEPARATOR = r"(?:[\\/]|%5[cC]|%2[fF])"
_SEGMENT = r"(?:[^\\/\"'<>\s%]|%(?!5[cC]|2[fF])[0-9A-Fa-f]{2}){1,64}"
USER_FOLDER = re.compile(
    rf"(?:(?:\b[a-z]:|file:|\\\\[\w.$-]+"
    rf"|(?P<relative>(?<=[\"'])(?:\.\.?{_SEPARATOR})+|(?<=[\"'])(?={_SEPARATOR})))"
    rf"{_SEPARATOR}*(?:{_SEGMENT}{_SEPARATOR}+){{0,6}}?"
    rf"(?:users|documents and settings|home|media){_SEPARATOR}+{_SEGMENT}"
    rf"(?(relative)(?={_SEPARATOR})))"
    r"|-my\.sharepoint\.com/personal/[^/\"'<>\s]{1,128}|\bd\.docs\.live\.net/[0-9a-f]{12,16}",
    re.IGNORECASE,
)
FOLDER_FIELD = "folder"

# Markup, in the order tried: comments, CDATA sections, processing instructions, other
# declarations, then tags (a quoted attribute value may hold ">").
_TOKEN = re.compile(
    r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<![^>]*>"
    r"|<(?P<end>/?)(?P<name>[^\s/>!?]+)(?P<attributes>(?:[^>\"']|\"[^\"]*\"|'[^']*')*)>",
    re.DOTALL,
)
_ATTRIBUTE = re.compile(r"(?P<space>\s+)(?P<name>[^\s=/]+)\s*=\s*(?P<value>\"[^\"]*\"|'[^']*')")
# Excel's wrapper of absPath: removed whole, so no empty choice is left behind.
_ABSPATH_WRAPPER = re.compile(
    r"<(?P<p1>[\w.-]+:)?AlternateContent\b[^>]*>\s*<(?P<p2>[\w.-]+:)?Choice\b[^>]*>\s*"
    r"<[\w.-]+:absPath\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*/>\s*"
    r"</(?P=p2)Choice>\s*</(?P=p1)AlternateContent>"
)
_WORDS = re.compile(
    "|".join(
        sorted(
            PERSON_ATTRIBUTES
            | PEOPLE_ELEMENTS
            | REMOVED_ELEMENTS
            | PERSON_ELEMENTS
            | CHANGE_ELEMENTS
            | {"person", REMOVED_ATTRIBUTE_PREFIX, *PRINTER_ITEMS}
        )
    )
)


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def is_xml_member(name: str, data: bytes) -> bool:
    """Whether an archive member is XML (by its name, or a declaration or BOM at its
    start)."""
    head = data[:8].lstrip(b"\xef\xbb\xbf\r\n\t ")
    return name.endswith(XML_SUFFIXES) or head.startswith(b"<?xml") or data[:2] in _UTF16_BOMS


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode(data: bytes) -> tuple[str, str]:
    """The text of an XML member and the codec that gives its bytes back. UTF-16 (by its
    byte-order mark) is decoded; anything else is read as Latin-1, which gives every byte
    back unchanged: the markup looked for is ASCII, and in UTF-8 and the other
    ASCII-compatible encodings a quote or angle bracket is never part of another
    character."""
    if data[:2] in _UTF16_BOMS:
        return data.decode("utf-16"), "utf-16"
    return data.decode("latin-1"), "latin-1"


def scrub_xml(data: bytes) -> tuple[bytes, set[Removed]]:
    """``data`` (an XML member) without the names and dates described in the module's
    docstring, and what was found there (empty: ``data`` is returned as it was). Raises
    ValueError for a member that cannot be decoded."""
    try:
        text, codec = decode(data)
    except UnicodeDecodeError:
        raise ValueError("undecodable XML member") from None
    linked: list[str] = []
    text = _LINK.sub(lambda link: _without_user_folder(link, linked), text)
    found: set[Removed] = {Removed.AUTHOR} if linked else set()
    if not _WORDS.search(text):  # nothing more to look at (most members): no walk
        return (text.encode(codec), found) if found else (data, found)
    text, wrappers = _ABSPATH_WRAPPER.subn("", text)
    if wrappers:
        found.add(FOUND_AS["absPath"])
    pieces = list(_walk(text, found))
    if not found:
        return data, found
    return "".join(pieces).encode(codec), found


# A link to an outside file: a relationship's Target (a linked picture, an external
# workbook: TargetMode="External"), an ODF xlink:href.
_LINK = re.compile(r"(?P<name>\b(?:[\w.-]+:)?(?:Target|href))\s*=\s*(?P<value>\"[^\"]*\"|'[^']*')")


def _without_user_folder(match: re.Match[str], changed: list[str]) -> str:
    """A link (:data:`_LINK`) to a file in a user's folder (:data:`USER_FOLDER`:
    ``file:///C:/Users/NAME/Documents/foto.jpg``) pointing to the file's name only
    (``foto.jpg``, next to the document: where a link to the reporter's computer leads on
    any other one), its old target appended to ``changed``; any other link as it is."""
    quote, path = match.group("value")[0], match.group("value")[1:-1]
    if not USER_FOLDER.search(quote + path.replace("&amp;", "&")):
        return match.group(0)
    changed.append(path)
    name = file_name_of(path.replace("&amp;", "&"))
    return f"{match.group('name')}={quote}{quote_path(name, safe='-._~!$()*+,;=@')}{quote}"


def file_name_of(link: str) -> str:
    """The last part of a linked path (``file:///C:/Users/NAME/foto%20KTP.jpg`` ->
    ``foto KTP.jpg``), percent-decoded (RFC 3986 section 2.1), with ``\\`` read as ``/``;
    ``-`` when the link ends in a folder with no name. What a link into a user's folder
    (:data:`USER_FOLDER`) becomes in a cleaned office file or PDF."""
    return unquote(link).replace("\\", "/").rstrip("/").rpartition("/")[2] or "-"


def _walk(text: str, found: set[Removed]) -> Iterator[str]:
    stack: list[str] = []  # local names of the open elements
    removing = -1  # depth of the element being removed, or -1
    blanking = -1  # depth of the element whose text is blanked, or -1
    at = 0
    for token in _TOKEN.finditer(text):
        between = text[at : token.start()]
        at = token.end()
        if removing < 0:
            if blanking >= 0 and between.strip():
                found.add(FOUND_AS.get(stack[blanking], FOUND_AS["person"]))
            elif blanking < 0:
                yield between
        name = token.group("name")
        if name is None:  # comment, CDATA, declaration
            if removing < 0:
                yield token.group(0)
            continue
        local = _local(name)
        if token.group("end"):
            if removing < 0:
                yield token.group(0)
            if stack:
                stack.pop()
            if len(stack) <= removing:
                removing = -1
            if len(stack) <= blanking:
                blanking = -1
            continue
        attributes = token.group("attributes")
        empty = attributes.rstrip().endswith("/")
        parent = stack[-1] if stack else ""
        if removing < 0 and (
            local in REMOVED_ELEMENTS or (local == "person" and parent == "people")
        ):
            found.add(FOUND_AS.get(local, Removed.AUTHOR))
            if not empty:
                removing = len(stack)
                stack.append(local)
            continue
        if not empty:
            stack.append(local)
        if removing >= 0:
            continue
        yield "<" + name + _attributes(local, attributes, found) + ">"
        if not empty and blanking < 0:
            if local == "date" and parent in CHANGE_ELEMENTS:
                blanking = len(stack) - 1
                yield NEUTRAL_DATE
            elif (
                local in PERSON_ELEMENTS
                or (local == "author" and parent in AUTHOR_LISTS)
                or (local == "config-item" and PRINTER_ITEM.search(attributes))
            ):
                blanking = len(stack) - 1
    if removing < 0 and blanking < 0:
        yield text[at:]


def _attributes(local: str, attributes: str, found: set[Removed]) -> str:
    """A start tag's attributes with names blanked and, where a person is named, dates
    removed."""
    names = {_local(match.group("name")) for match in _ATTRIBUTE.finditer(attributes)}
    blanked = set(PERSON_ATTRIBUTES)
    if local in PEOPLE_ELEMENTS:
        blanked |= PEOPLE_ATTRIBUTES
    names_a_person = bool(names & PERSON_ATTRIBUTES)

    def rewrite(match: re.Match[str]) -> str:
        name, value = match.group("name"), match.group("value")
        attribute = _local(name)
        if name.startswith("xmlns"):
            return match.group(0)
        if attribute.startswith(REMOVED_ATTRIBUTE_PREFIX):
            found.add(Removed.EDIT_HISTORY)
            return ""
        if attribute in blanked:
            if len(value) > 2:
                found.add(Removed.AUTHOR)
                return f"{match.group('space')}{name}={value[0]}{value[0]}"
            return match.group(0)
        if names_a_person and attribute in DATE_ATTRIBUTES:
            found.add(Removed.DATES)
            return ""
        return match.group(0)

    return _ATTRIBUTE.sub(rewrite, attributes)


def guarded_parse(
    data: bytes,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None],
    characters: Callable[[str], None],
    namespace_separator: str | None = None,
    declare: Callable[[str | None, str], None] | None = None,
) -> None:
    """Parse ``data`` with expat, calling ``start``, ``end``, ``characters`` (and
    ``declare`` for each namespace declaration), refusing any document type declaration
    (office XML has none: an entity declared in one is a "billion laughs" bomb) with
    ``ValueError``. Raises ``expat.ExpatError`` for what is not well-formed."""

    def refuse(*_: object) -> None:
        raise ValueError("a document type declaration")

    parser = expat.ParserCreate(namespace_separator=namespace_separator)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    if declare is not None:
        parser.StartNamespaceDeclHandler = declare
    parser.Parse(data, True)


def leftovers(path: str) -> list[tuple[str, str]]:
    """What still names a person in the XML members of the office or ODF archive at
    ``path``: ``("author", value)`` for each attribute of :data:`PERSON_ATTRIBUTES`, each
    element of :data:`PERSON_ELEMENTS` with text, and each of :data:`REMOVED_ELEMENTS`
    (its attribute values); ``("folder", path)`` for each user folder
    (:func:`user_folders`); at most :data:`MAX_LEFTOVERS`. A member expat cannot parse
    (VML is often not well-formed) is searched for such attributes as text. Raises
    ValueError (or BadZipFile) for an archive that cannot be read."""
    found: list[tuple[str, str]] = []
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if len(found) >= MAX_LEFTOVERS:
                break
            data = archive.read(member)
            if is_xml_member(member.filename, data):
                found.extend(_member_leftovers(data))
                found.extend((FOLDER_FIELD, folder) for folder in user_folders(data))
    return list(dict.fromkeys(found))[:MAX_LEFTOVERS]


def user_folders(data: bytes) -> list[str]:
    """The user folders (:data:`USER_FOLDER`) an XML member names anywhere (attributes,
    text, formulas) as paths, percent-decoded: ``C:/Users/Siti Rahmawati``."""
    try:
        text, _ = decode(data)
    except UnicodeDecodeError:
        return []
    folders = []
    for match in USER_FOLDER.finditer(text):
        folder = unquote(match.group()).lstrip("-")
        if folder[:5].lower() == "file:" or match.group("relative") is not None:
            # as a path: file:///C:/Users/NAME, ../../C:/Users/NAME: C:/Users/NAME;
            # file:///home/NAME, ../../home/NAME: /home/NAME
            folder = folder[5:] if folder[:5].lower() == "file:" else folder
            folder = folder.lstrip("./\\")
            folder = folder if folder[1:2] == ":" else "/" + folder
        folders.append(folder)
    return folders


def _member_leftovers(data: bytes) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    texts: list[list[str] | None] = []  # the text of each open person element
    removable = [0]  # how many open elements are (inside) one of REMOVED_ELEMENTS
    stack = [""]  # local names of the open elements

    def start(name: str, attributes: dict[str, str]) -> None:
        local = _local(name)
        inside = removable[-1] + (local in REMOVED_ELEMENTS)
        removable.append(inside)
        for key, value in attributes.items():
            if value.strip() and (
                inside
                or _local(key) in PERSON_ATTRIBUTES
                or (local in PEOPLE_ELEMENTS and _local(key) in PEOPLE_ATTRIBUTES)
            ):
                found.append(("author", value))
        names = local in PERSON_ELEMENTS or (local == "author" and stack[-1] in AUTHOR_LISTS)
        texts.append([] if names else None)
        stack.append(local)

    def end(name: str) -> None:
        stack.pop()
        removable.pop()
        text = texts.pop()
        if text is not None and "".join(text).strip():
            found.append(("author", "".join(text).strip()))

    def characters(data: str) -> None:
        for text in texts:
            if text is not None:
                text.append(data)

    try:
        guarded_parse(data, start, end, characters)
    except expat.ExpatError:
        text, _ = decode(data)
        for match in _ATTRIBUTE.finditer(text):
            if _local(match.group("name")) in PERSON_ATTRIBUTES and match.group("value")[1:-1]:
                found.append(("author", match.group("value")[1:-1]))
    return found
