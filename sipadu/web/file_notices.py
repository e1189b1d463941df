"""What the reporter is told about their files and their text (issue 21 items 2 and 3),
in the reader's language: per file, what cleaning did ("cleaned (removed: author, GPS
…)" / "kept as sent (why)"), and, before anything is stored, the identifying details
found (:mod:`sipadu.services.identifying`) and the files that could still name someone.
Pages show these words, never the enum values (sipadu/web/words.py's rule)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from sipadu.evidence.outcome import Cleaned, KeptAsSent, KeptReason, Kind, Outcome, Removed
from sipadu.services.attachments import UploadedFile, clean_name, shorten_name
from sipadu.services.identifying import Finding, IdentifyingKind, scan_name

REMOVED_LABELS: dict[Removed, LazyString] = {
    Removed.AUTHOR: _l("author"),
    Removed.GPS: _l("GPS location"),
    Removed.CAMERA: _l("camera or device"),
    Removed.DATES: _l("dates"),
    Removed.SOFTWARE: _l("software"),
    Removed.COMMENTS: _l("comments and titles"),
    Removed.EDIT_HISTORY: _l("edit history"),
    Removed.THUMBNAIL: _l("thumbnail"),
    Removed.OTHER: _l("other hidden data"),
}
KEPT_LABELS: dict[KeptReason, LazyString] = {
    KeptReason.UNKNOWN_TYPE: _l("this type of file cannot be cleaned here"),
    KeptReason.UNREADABLE: _l("the file looks damaged and could not be read"),
    KeptReason.TOO_LARGE: _l("the file is too large to be cleaned here"),
    KeptReason.TOO_COSTLY: _l("cleaning it took more memory or time than allowed"),
    KeptReason.WOULD_DAMAGE: _l("cleaning would damage it"),
    KeptReason.OLD_FORMAT: _l(
        "older Word, Excel, PowerPoint and RTF files cannot be cleaned here: save it as "
        "PDF or in the newer format (.docx, .xlsx, .pptx) to have it cleaned"
    ),
}
# A ZIP that is no office document (its files are not looked into).
ARCHIVE_KEPT = _l("an archive (ZIP) is stored as sent: the files in it are not cleaned")
# A field still in a file after cleaning (sipadu.evidence.outcome.Remaining.field).
REMAINING_LABELS: dict[str, LazyString] = {
    "author": _l("an author"),
    "creator": _l("an author"),
    "last-modified-by": _l("the last editor"),
    "editor": _l("the last editor"),
    "company": _l("a company or office"),
    "organization": _l("a company or office"),
    "owner": _l("an owner"),
    "manager": _l("a manager"),
    "gps": _l("a GPS location"),
    "camera": _l("a camera or device"),
    "folder": _l("a folder of the computer it was made on (often named after its user)"),
}
# A field of a name not listed above.
REMAINING_OTHER = _l("a person or an office")
VALUE_SHOWN = 80  # characters of a file's remaining values of one kind in the warning
NAME_SHOWN = 60  # characters of a file name


def file_notice(outcome: Outcome | None) -> str | None:
    """One file's notice: "cleaned (removed: author, GPS location)", "cleaned (nothing
    hidden was found)", "kept as sent (why)", each followed by what identifying fields
    are still in it ("; still in its hidden details: an author (Siti)"); None
    when cleaning did not look at it."""
    if isinstance(outcome, Cleaned):
        if not outcome.removed:
            notice = _("cleaned (no hidden data was found)")
        else:
            removed = ", ".join(str(REMOVED_LABELS[r]) for r in sorted(outcome.removed))
            notice = _("cleaned (removed: %(removed)s)", removed=removed)
    elif isinstance(outcome, KeptAsSent):
        notice = _("kept as sent (%(why)s)", why=kept_label(outcome))
    else:
        return None
    if outcome.remaining:
        still = ", ".join(
            f"{what} ({shorten_name(values, VALUE_SHOWN)})"
            for what, values in remaining_values(outcome).items()
        )
        notice += "; " + _("still in its hidden details: %(what)s", what=still)
    return notice


def remaining_values(outcome: Outcome) -> dict[str, str]:
    """The identifying fields still in a file, by what they are in words (a label of
    :data:`REMAINING_LABELS`, in the order first found), each with its values joined
    (a GPS position's latitude, longitude and altitude are one line)."""
    values: dict[str, list[str]] = {}
    for remaining in outcome.remaining:
        label = str(REMAINING_LABELS.get(remaining.field.lower(), REMAINING_OTHER))
        value = remaining.value.strip()
        if value and value not in values.setdefault(label, []):
            values[label].append(value)
    return {label: ", ".join(found) for label, found in values.items()}


def kept_label(outcome: KeptAsSent) -> LazyString:
    """Why a file was kept as sent, in words: an archive's own words for a ZIP that is
    no document, else its reason's."""
    if outcome.why is KeptReason.UNKNOWN_TYPE and outcome.kind is Kind.ZIP:
        return ARCHIVE_KEPT
    return KEPT_LABELS[outcome.why]


@dataclass(frozen=True)
class FileNotice:
    name: str
    notice: str


def file_notices(files: Sequence[tuple[str, Outcome | None]]) -> list[FileNotice]:
    """The notices of the files (name, outcome) cleaning looked at, names shortened for
    the page."""
    notices = []
    for name, outcome in files:
        notice = file_notice(outcome)
        if notice is not None:
            notices.append(FileNotice(shorten_name(clean_name(name), NAME_SHOWN), notice))
    return notices


@dataclass(frozen=True)
class Flag:
    """One thing the warning names: ``text`` (a sentence), ``anchor`` (the id of the
    field or file to go to)."""

    text: str
    anchor: str


def text_flags(findings: Sequence[Finding], labels: Mapping[str, str]) -> list[Flag]:
    """The sentences for ``findings``, the field named by ``labels`` (field -> label);
    the anchor is the field's name (its element id)."""
    said = {
        IdentifyingKind.NIK: lambda label, shown: _(
            "A number that looks like a NIK (population ID number) in “%(field)s”: %(shown)s",
            field=label,
            shown=shown,
        ),
        IdentifyingKind.NIP: lambda label, shown: _(
            "A number that looks like a NIP (civil servant ID number) in “%(field)s”: %(shown)s",
            field=label,
            shown=shown,
        ),
        IdentifyingKind.PHONE: lambda label, shown: _(
            "A phone number in “%(field)s”: %(shown)s", field=label, shown=shown
        ),
        IdentifyingKind.EMAIL: lambda label, shown: _(
            "An e-mail address in “%(field)s”: %(shown)s", field=label, shown=shown
        ),
    }
    return [Flag(said[f.kind](labels.get(f.field, f.field), f.shown), f.field) for f in findings]


def more_flags(unlisted: Mapping[str, int], labels: Mapping[str, str]) -> list[Flag]:
    """For each field with more findings than are listed (field -> how many more): one
    line saying how many more, anchored on the field."""
    return [
        Flag(
            _(
                "%(count)d more such details in “%(field)s” are not listed here: check the "
                "whole text.",
                count=count,
                field=labels.get(name, name),
            ),
            name,
        )
        for name, count in unlisted.items()
    ]


def unlisted_flag(count: int, first: Flag) -> Flag:
    """The warning's last line when it lists only the first of its lines: ``count`` more
    are not listed (anchored on the first line's field or file)."""
    return Flag(
        _(
            "%(count)d more details are not listed here: check your whole text and every file.",
            count=count,
        ),
        first.anchor,
    )


def file_flags(files: Sequence[UploadedFile], anchors: Sequence[str]) -> list[Flag]:
    """What in ``files`` could still name someone: identifying fields cleaning could not
    remove, and files of a type SIPADU cleans that could not be cleaned (damaged, too
    large, too costly) and would be stored as sent; ``anchors[i]`` the id of the i-th
    file on the page. A file of a type SIPADU does not clean (a ZIP, a text file) is not
    flagged: the form says beforehand which types are cleaned, and the notice after
    sending says it was kept as sent."""
    flags = []
    for upload, anchor in zip(files, anchors, strict=True):
        outcome = upload.outcome
        if outcome is None:
            continue
        name = shorten_name(clean_name(upload.name), NAME_SHOWN)
        for what, values in remaining_values(outcome).items():
            value = shorten_name(values, VALUE_SHOWN)
            text = _(
                "The file “%(name)s” still holds %(what)s in its hidden details: %(value)s",
                name=name,
                what=what,
                value=value,
            )
            flags.append(Flag(text, anchor))
        if isinstance(outcome, KeptAsSent) and outcome.why is not KeptReason.UNKNOWN_TYPE:
            text = _(
                "The file “%(name)s” could not be cleaned of hidden data (%(why)s): it would "
                "be stored as sent, with anything it says about who made it.",
                name=name,
                why=KEPT_LABELS[outcome.why],
            )
            flags.append(Flag(text, anchor))
    return flags


def name_flags(files: Sequence[UploadedFile], anchors: Sequence[str]) -> list[Flag]:
    """The identifying details in the names of ``files``
    (:func:`sipadu.services.identifying.scan_name`: a name is stored with its file and
    shown to investigators), one sentence each, naming the file; ``anchors[i]`` the id
    of the i-th file on the page."""
    said = {
        IdentifyingKind.NIK: lambda name, shown: _(
            "In the name of the file “%(name)s”: a number that looks like a NIK (population "
            "ID number), %(shown)s",
            name=name,
            shown=shown,
        ),
        IdentifyingKind.NIP: lambda name, shown: _(
            "In the name of the file “%(name)s”: a number that looks like a NIP (civil "
            "servant ID number), %(shown)s",
            name=name,
            shown=shown,
        ),
        IdentifyingKind.PHONE: lambda name, shown: _(
            "In the name of the file “%(name)s”: a phone number, %(shown)s", name=name, shown=shown
        ),
        IdentifyingKind.EMAIL: lambda name, shown: _(
            "In the name of the file “%(name)s”: an e-mail address, %(shown)s",
            name=name,
            shown=shown,
        ),
    }
    flags = []
    for upload, anchor in zip(files, anchors, strict=True):
        stored = clean_name(upload.name)
        shown_name = shorten_name(stored, NAME_SHOWN)
        for finding in scan_name(stored):
            flags.append(Flag(said[finding.kind](shown_name, finding.shown), anchor))
    return flags
