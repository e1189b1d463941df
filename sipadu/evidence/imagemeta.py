"""What hidden data a picture carries, by category, read before it is stripped away.

Runs in the confined cleaning child (:mod:`sipadu.evidence.imagestrip`) on an image
Pillow has opened (header only; no pixel decoded). The categories are what the reporter
is told was removed (:class:`~sipadu.evidence.outcome.Removed`); nothing of the values
leaves the child. Sources of the tag numbers and names:

- EXIF 2.32 (CIPA DC-008) and TIFF 6.0: IFD0, the Exif IFD, the GPS IFD, IFD1 (the
  thumbnail). Tags that only describe the picture's own pixels (size, strips,
  compression, colour) are not hidden data.
- XMP (ISO 16684-1): the property names of the EXIF, TIFF, Dublin Core, XMP basic,
  Photoshop and IPTC Core schemas, matched by local name whatever the prefix.
- IPTC-IIM 4.2 (Photoshop APP13 in JPEG, tag 33723 in TIFF): record 2 datasets.
- PNG 1.2 section 11.3.4.2: the text chunks' predefined keywords; ``tIME``.
- GIF89a: comment and plain-text extensions, application extensions.
"""

import re
import struct
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sipadu.evidence.outcome import Removed
from sipadu.evidence.picturescrub import PNG_DISPLAY_CHUNKS

if TYPE_CHECKING:  # Pillow is imported only once the process is confined
    import PIL.Image

# EXIF/TIFF tags (IFD0 and Exif IFD) by category.
_EXIF_TAGS: dict[int, Removed] = {
    0x010F: Removed.CAMERA,  # Make
    0x0110: Removed.CAMERA,  # Model
    0x013C: Removed.CAMERA,  # HostComputer
    0xA431: Removed.CAMERA,  # BodySerialNumber
    0xA433: Removed.CAMERA,  # LensMake
    0xA434: Removed.CAMERA,  # LensModel
    0xA435: Removed.CAMERA,  # LensSerialNumber
    0x013B: Removed.AUTHOR,  # Artist
    0x8298: Removed.AUTHOR,  # Copyright
    0x9C9D: Removed.AUTHOR,  # XPAuthor
    0xA430: Removed.AUTHOR,  # CameraOwnerName
    0x0132: Removed.DATES,  # DateTime
    0x9003: Removed.DATES,  # DateTimeOriginal
    0x9004: Removed.DATES,  # DateTimeDigitized
    0x9010: Removed.DATES,  # OffsetTime
    0x9011: Removed.DATES,  # OffsetTimeOriginal
    0x9012: Removed.DATES,  # OffsetTimeDigitized
    0x9290: Removed.DATES,  # SubSecTime
    0x9291: Removed.DATES,  # SubSecTimeOriginal
    0x9292: Removed.DATES,  # SubSecTimeDigitized
    0x0131: Removed.SOFTWARE,  # Software
    0x010E: Removed.COMMENTS,  # ImageDescription
    0x010D: Removed.COMMENTS,  # DocumentName
    0x011D: Removed.COMMENTS,  # PageName
    0x9286: Removed.COMMENTS,  # UserComment
    0x9C9B: Removed.COMMENTS,  # XPTitle
    0x9C9C: Removed.COMMENTS,  # XPComment
    0x9C9E: Removed.COMMENTS,  # XPKeywords
    0x9C9F: Removed.COMMENTS,  # XPSubject
}
_GPS_IFD, _EXIF_IFD, _INTEROP_IFD, _IFD1 = 0x8825, 0x8769, 0xA005, -1
# Tags that describe the picture's own pixels or where they are in the file (TIFF 6.0,
# baseline and extension tags; EXIF's own version and pointers): not hidden data.
_OWN_TAGS = {
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282,
    283, 284, 290, 291, 296, 297, 317, 318, 319, 320, 321, 322, 323, 324, 325, 332, 338,
    339, 340, 341, 347, 512, 513, 514, 529, 530, 531, 532, _EXIF_IFD, _GPS_IFD,
    _INTEROP_IFD,
}  # fmt: skip
# Exif IFD tags every camera writes that say nothing of the picture's maker or moment.
_EXIF_BOILERPLATE = {0x9000, 0x9101, 0xA000, 0xA001, 0xA002, 0xA003, _INTEROP_IFD}
_THUMBNAIL_TAGS = {0x0201, 0x0202, 0x0111}  # JPEGInterchangeFormat(Length), StripOffsets

# XMP properties by local name (any namespace prefix).
_XMP_NAMES: dict[bytes, Removed] = {
    **{name: Removed.GPS for name in (b"GPSLatitude", b"GPSLongitude", b"GPSAltitude",
                                      b"GPSPosition", b"Location", b"City", b"State",
                                      b"Country", b"LocationCreated", b"LocationShown")},
    **{name: Removed.AUTHOR for name in (b"creator", b"rights", b"Artist", b"Copyright",
                                         b"AuthorsPosition", b"CaptionWriter", b"Owner",
                                         b"CreatorContactInfo", b"UsageTerms",
                                         b"CameraOwnerName", b"Credit")},
    **{name: Removed.CAMERA for name in (b"Make", b"Model", b"SerialNumber",
                                         b"BodySerialNumber", b"LensModel", b"Lens",
                                         b"LensSerialNumber", b"LensMake")},
    **{name: Removed.DATES for name in (b"CreateDate", b"ModifyDate", b"MetadataDate",
                                        b"DateTimeOriginal", b"DateTimeDigitized",
                                        b"DateCreated", b"DateTime")},
    **{name: Removed.SOFTWARE for name in (b"CreatorTool", b"Software", b"History")},
    **{name: Removed.COMMENTS for name in (b"description", b"title", b"subject",
                                           b"UserComment", b"Headline", b"Instructions",
                                           b"ImageDescription", b"Keywords")},
}  # fmt: skip
_XMP_NAME = re.compile(rb"[<\s][A-Za-z][\w.-]*:([A-Za-z]+)[\s=>/]")

# IPTC-IIM record 2 datasets by category.
_IPTC: dict[int, Removed] = {
    80: Removed.AUTHOR,  # By-line
    85: Removed.AUTHOR,  # By-line Title
    110: Removed.AUTHOR,  # Credit
    116: Removed.AUTHOR,  # Copyright Notice
    122: Removed.AUTHOR,  # Writer/Editor
    55: Removed.DATES,  # Date Created
    60: Removed.DATES,  # Time Created
    62: Removed.DATES,  # Digital Creation Date
    90: Removed.GPS,  # City
    92: Removed.GPS,  # Sub-location
    95: Removed.GPS,  # Province/State
    100: Removed.GPS,  # Country Code
    101: Removed.GPS,  # Country
    65: Removed.SOFTWARE,  # Originating Program
    5: Removed.COMMENTS,  # Object Name
    25: Removed.COMMENTS,  # Keywords
    105: Removed.COMMENTS,  # Headline
    120: Removed.COMMENTS,  # Caption/Abstract
}

# PNG text keywords (PNG 1.2, 11.3.4.2).
_PNG_TEXT = {
    "author": Removed.AUTHOR,
    "artist": Removed.AUTHOR,  # exiftool writes EXIF names as keywords
    "make": Removed.CAMERA,
    "model": Removed.CAMERA,
    "copyright": Removed.AUTHOR,
    "creation time": Removed.DATES,
    "software": Removed.SOFTWARE,
    "source": Removed.CAMERA,
    "title": Removed.COMMENTS,
    "description": Removed.COMMENTS,
    "comment": Removed.COMMENTS,
    "disclaimer": Removed.COMMENTS,
    "warning": Removed.COMMENTS,
}
# Keys Pillow puts in ``info`` that are not text found in the file.
_PILLOW_INFO = {
    "dpi", "gamma", "transparency", "aspect", "interlace", "progression", "progressive",
    "jfif", "jfif_version", "jfif_unit", "jfif_density", "adobe", "adobe_transform",
    "duration", "loop", "background", "version", "extension", "compression",
    "resolution", "srgb", "chromaticity", "default_image", "disposal", "mpoffset",
    "mp", "exif", "xmp", "icc_profile", "comment", "photoshop", "XML:com.adobe.xmp",
    "bit_depth", "primary", "metadata", "thumbnails", "depth_images", "aux", "chroma",
    "nclx_profile", "original_orientation", "timestamp", "blend", "use_cropbox",
}  # fmt: skip


# The EXIF Orientation tag (TIFF 6.0 tag 274, Exif 2.32 section 4.6.4).
ORIENTATION = 0x0112


def upright(image: "PIL.Image.Image") -> "PIL.Image.Image":
    """``image`` turned the way its EXIF Orientation tag says (values 2-8; 1 or none:
    ``image`` itself), as a viewer shows it. Not ``ImageOps.exif_transpose``, which
    writes the EXIF block back and fails (``struct.error``) on GPS values Pillow read in
    :func:`found`: every portrait phone photo with GPS was kept as sent (issue 21
    review)."""
    from PIL import Image

    turn = Image.Transpose
    method = {
        2: turn.FLIP_LEFT_RIGHT,
        3: turn.ROTATE_180,
        4: turn.FLIP_TOP_BOTTOM,
        5: turn.TRANSPOSE,
        6: turn.ROTATE_270,
        7: turn.TRANSVERSE,
        8: turn.ROTATE_90,
    }.get(image.getexif().get(ORIENTATION, 1))
    return image if method is None else image.transpose(method)


def found(image: "PIL.Image.Image", pillow_format: str) -> set[Removed]:
    """The categories of hidden data ``image`` (opened, at its current frame or page)
    carries."""
    removed: set[Removed] = set()
    info = image.info
    exif = image.getexif()
    removed |= exif_categories(exif, own_tags=pillow_format == "TIFF")
    if info.get("icc_profile"):
        removed.add(Removed.OTHER)
    for key in ("xmp", "XML:com.adobe.xmp"):
        if info.get(key):
            removed |= xmp_categories(_as_bytes(info[key]))
    if info.get("comment"):
        removed.add(Removed.COMMENTS)
    if pillow_format in ("JPEG", "MPO", "TIFF"):
        removed |= _iptc(image)
    if pillow_format == "JPEG" or pillow_format == "MPO":
        removed |= _jpeg_segments(getattr(image, "applist", []))
    if pillow_format == "PNG":
        removed |= png_text_categories(info)
    if pillow_format == "HEIF":
        if info.get("thumbnails"):
            removed.add(Removed.THUMBNAIL)
        if info.get("depth_images") or info.get("aux"):
            removed.add(Removed.OTHER)
    return removed


def exif_categories(exif: Mapping[int, Any], own_tags: bool = False) -> set[Removed]:
    """Categories in an EXIF block or a TIFF page's tags (``own_tags``: a TIFF page, whose
    IFD1 is its next page, not a thumbnail). Tags of the picture's own structure are not
    counted."""
    removed: set[Removed] = set()
    get_ifd = getattr(exif, "get_ifd", None)
    ifds: list[Mapping[int, Any]] = [exif]
    if get_ifd is not None:
        if exif.get(_GPS_IFD) is not None and _nonempty(get_ifd(_GPS_IFD)):
            removed.add(Removed.GPS)
        if exif.get(_EXIF_IFD) is not None:
            ifds.append(get_ifd(_EXIF_IFD))
        try:
            thumbnail = get_ifd(_IFD1) if not own_tags else {}
        except (KeyError, ValueError, OSError, SyntaxError):
            thumbnail = {}
        if thumbnail and _THUMBNAIL_TAGS & set(thumbnail):
            removed.add(Removed.THUMBNAIL)
    for index, ifd in enumerate(ifds):
        for tag, value in ifd.items():
            if tag in _EXIF_TAGS:
                if _nonempty(value):
                    removed.add(_EXIF_TAGS[tag])
            elif tag == _GPS_IFD:
                continue
            elif tag not in (_OWN_TAGS if index == 0 else _EXIF_BOILERPLATE):
                removed.add(Removed.OTHER)  # MakerNote, exposure, XMP, IPTC, ICC tags…
    return removed


def xmp_categories(xmp: bytes) -> set[Removed]:
    """Categories of the properties named in an XMP packet (any XMP at all is at least
    :attr:`Removed.OTHER`)."""
    removed = {Removed.OTHER}
    for name in set(_XMP_NAME.findall(xmp)):
        if name in _XMP_NAMES:
            removed.add(_XMP_NAMES[name])
        elif name.startswith(b"GPS"):
            removed.add(Removed.GPS)
    return removed


def png_text_categories(info: Mapping[Any, Any]) -> set[Removed]:
    """Categories of a PNG's text chunks as Pillow puts them in ``info``."""
    removed: set[Removed] = set()
    for key, value in info.items():
        if not isinstance(key, str) or key in _PILLOW_INFO:
            continue
        lowered = key.lower()
        if lowered.startswith("raw profile type"):  # ImageMagick's hex EXIF/IPTC/XMP
            removed |= _raw_profile(lowered, value)
        else:
            removed.add(_PNG_TEXT.get(lowered, Removed.OTHER))
    return removed


def png_chunk_categories(names: Iterable[bytes]) -> set[Removed]:
    """Categories of a PNG's ancillary chunks that Pillow does not read into ``info``."""
    removed: set[Removed] = set()
    for name in names:
        if name == b"tIME":
            removed.add(Removed.DATES)
        elif name in (b"iCCP", b"eXIf", b"zTXt", b"iTXt", b"tEXt"):
            continue  # read from info
        elif name[:1].islower() and name not in PNG_DISPLAY_CHUNKS:
            removed.add(Removed.OTHER)
    return removed


def gif_categories(
    comment: bool, plain_text: bool, applications: Iterable[bytes], xmp: bytes
) -> set[Removed]:
    """Categories of a GIF's extensions (:func:`sipadu.evidence.imagecheck.gif_walk`)."""
    removed: set[Removed] = set()
    if comment:
        removed.add(Removed.COMMENTS)
    if plain_text:
        removed.add(Removed.OTHER)
    for identifier in applications:
        if identifier == b"XMP DataXMP":
            removed |= xmp_categories(xmp)
        elif identifier not in (b"NETSCAPE2.0", b"ANIMEXTS1.0"):  # the loop count: kept
            removed.add(Removed.OTHER)
    return removed


def _iptc(image: "PIL.Image.Image") -> set[Removed]:
    from PIL import ImageFile, IptcImagePlugin

    if not isinstance(image, ImageFile.ImageFile):
        return set()
    try:
        records = IptcImagePlugin.getiptcinfo(image) or {}
    except (SyntaxError, ValueError, OSError, IndexError, KeyError, TypeError):
        return {Removed.OTHER}
    removed = {Removed.OTHER} if records else set()
    for (record, dataset), _value in records.items():
        if record == 2 and dataset in _IPTC:
            removed.add(_IPTC[dataset])
    return removed


def _jpeg_segments(applist: Iterable[tuple[str, bytes]]) -> set[Removed]:
    removed: set[Removed] = set()
    for marker, body in applist:
        if marker == "COM":
            removed.add(Removed.COMMENTS)
        elif marker in ("APP0", "APP14"):
            if marker == "APP0" and body[:5] == b"JFIF\x00" and len(body) >= 14 and body[12]:
                removed.add(Removed.THUMBNAIL)  # a JFIF thumbnail (width > 0)
        elif marker == "APP1" and body.startswith(b"Exif"):
            continue  # read from getexif()
        elif marker == "APP1" and body.startswith(b"http://ns.adobe.com/xap/1.0/\x00"):
            continue  # read from info["xmp"]
        elif marker == "APP1" and b"ns.adobe.com/xmp/extension" in body[:40]:
            removed |= xmp_categories(body)
        else:
            removed.add(Removed.OTHER)  # ICC, MPF, Photoshop/IPTC, maker segments
    return removed


def _raw_profile(key: str, value: Any) -> set[Removed]:
    """ImageMagick's "Raw profile type exif/iptc/xmp" text: a name, a length and hex."""
    from PIL import Image

    try:
        text = _as_bytes(value).split(b"\n")
        raw = bytes.fromhex(b"".join(line.strip() for line in text[3:]).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return {Removed.OTHER}
    if key.endswith("exif") or key.endswith("app1"):
        if raw.startswith(b"Exif\x00\x00"):
            raw = raw[6:]
        exif = Image.Exif()
        try:
            exif.load(raw)
        except (SyntaxError, ValueError, OSError, struct.error):
            return {Removed.OTHER}
        return exif_categories(exif) | {Removed.OTHER}
    if key.endswith("xmp"):
        return xmp_categories(raw)
    return {Removed.OTHER}


def _nonempty(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bytes):
        return bool(value.strip(b"\x00 "))
    if isinstance(value, str):
        return bool(value.strip("\x00 "))
    if isinstance(value, Mapping):
        return bool(value)
    return True


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "replace")
