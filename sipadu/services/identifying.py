"""Details in a reporter's own text that could identify a person (issue 21 item 3):
Indonesian population numbers (NIK), civil-servant numbers (NIP), Indonesian phone
numbers and e-mail addresses. The reporter portal checks a report's text fields and a
mailbox message with :func:`scan_identifying` before anything is stored, and warns; it
never refuses (the reporter decides, and the identity field is where such details are
expected, so it is never checked).

How numbers are read: the text is cut into *runs*, digit groups joined by a dot, dash
or slash (spaced or not: ``0812 - 3456``), one or two spaces, or a parenthesis
(``(021)555``), never across a line break; a run
is read group by group, from its start, and at each group the first of these that fits
is taken: a report code's shape, a NIP, a NIK, an amount, the longest phone number that
starts there (so ``0812-3456-7890 15 kali`` is the phone number and then ``15``);
nothing fits: the next group. Labels are whole words, and only the nearest one before a
number, on its line, with no digit between, counts (``kode etik, NIK saya …`` is
labelled NIK). A number glued to letters is read only when the letters are a person's
label (``WA0812…``, ``telp0812…``, ``noHP0812…``, ``KTP3201…``; not ``INV3201…``).

What is *not* found, on purpose (each tested in tests/services/test_identifying.py,
tests/test_review_warning.py and tests/test_review_identifying.py):

- amounts: a number after ``Rp``/``IDR``, or followed by ``,00`` / ``.00`` / ``,-``,
  and any number grouped in threes with dots (``62.500.000.000``); in the fields named
  as amount fields (the estimated loss) every number not written as a phone number is
  (``0…``, ``+62…``: an amount never starts so) is an amount;
- dates (``2024-01-31``, ``31/01/2024``, ``31.01.2024 10.30``): a phone number needs a
  first group of at least three digits, and a slash is never inside one;
- report codes: sixteen digits written in groups of four (how SIPADU shows them:
  :func:`sipadu.services.passphrases.format_code`) that are no plausible NIK (a code is
  drawn never to be one: :func:`sipadu.services.passphrases.new_code`; so a NIK copied
  in groups of four, ``3201 0145 0890 0003``, is found, labelled or not), or sixteen
  digits labelled as a code (``kode``, ``code``, ``kode laporan:``; not ``kode etik``),
  however they look;
- numbers labelled as bank accounts ("rekening", "no. rek", "account": a bank's name
  may come between): these are most often the reported people's accounts, i.e. the
  evidence itself, and an account number is none of the four kinds; so are numbers
  labelled as a shipping receipt, ticket, invoice, contract, transaction, booking or
  bill ("resi JNE 0812…", "tiket", "faktur", "invoice", "kontrak", "transaksi", "trx",
  "booking", "billing");
- NIK- or NIP-length numbers without a plausible structure, and any number glued to a
  letter (``INV3201...``; a person's label aside, above) or part of a longer group of
  digits.

Text is normalised before it is looked at (:func:`normalise`): NFKC (full-width digits
and the full-width ``@`` become ASCII, non-breaking and other spaces a space), invisible
format characters (Unicode Cf: zero-width spaces and joiners, soft hyphens, direction
marks) removed, every dash (Unicode Pd, the minus sign) a ``-``, and an address written
``budi [at] mail [dot] com``, ``budi(at)mail.com``, ``budi[at]gmail[.]com``,
``budi(@)mail.com`` or ``budi @ mail.com`` read with its ``@`` and dots. A bare "at" is
an ordinary English word ("available at lapor.go.id"): ``budi at mail dot com``, ``budi
at mail titik co titik id`` and ``budi at gmail.com`` (a public mail provider) are read
as addresses, ``tersedia at lapor.go.id`` and ``kumpul at kantor titik jam 9`` are
not. A NIK's or NIP's groups may be joined by different separators
(``32.01.01-310890-0001``). Digits of other scripts (Arabic-Indic
``٠٨١٢``) are read as their ASCII digits. File names are read by :func:`scan_name`. The
cost is linear in the text's length (every group is looked at a bounded number of
times; overlaps with e-mail addresses are marked per character), and at most
:data:`LISTED_PER_FIELD` findings per field are made, the others only counted.
Nothing found is logged: the values are shown to the reporter only, masked
(:attr:`Finding.shown`).
"""

import enum
import heapq
import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field


class IdentifyingKind(enum.StrEnum):
    NIK = "nik"
    NIP = "nip"
    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True)
class Finding:
    """One identifying detail: the ``field`` (the caller's name for it) it is in, its
    kind, and ``shown``: the match masked, for the warning (``…1234``: the last four
    digits of a number, ``b…@mail.com`` for an address), enough for the reporter to
    find it in their own text and no more for someone looking over their shoulder."""

    field: str
    kind: IdentifyingKind
    shown: str


@dataclass
class Scan:
    """What :func:`scan_identifying` found: ``findings``, at most ``LISTED_PER_FIELD``
    per field (the first ones, in the order of the fields and, within one, of its
    text), and ``unlisted``: field -> how many more were found there (fields with more
    only)."""

    findings: list[Finding] = field(default_factory=list)
    unlisted: dict[str, int] = field(default_factory=dict)


LISTED_PER_FIELD = 10

# Province codes (the NIK's first two digits) of Kemendagri's administrative codes
# (Permendagri No. 72 Tahun 2019, updated by Kepmendagri No. 100.1.1-6117 Tahun 2022
# for the new Papuan provinces 93-96). A number that starts with another pair is not a
# NIK.
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53}
    | {61, 62, 63, 64, 65, 71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96}
)

# A run: digit groups (a "+" before the first; any in parentheses) joined by a dot, dash
# or slash with up to two spaces on either side ("0812 - 3456"), one or two spaces, or
# nothing next to a parenthesis. Never a line break or a tab.
_RUN = re.compile(r"\+?\(?\d+\)?(?:(?: {0,2}[.\-/] {0,2}| {1,2}|(?<=\))|(?=\())\(?\d+\)?)*")
_GROUP = re.compile(r"\d+")
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b"
)
_AMOUNT_BEFORE = re.compile(r"(?:rp|idr)\.?[ \t]*$", re.IGNORECASE)
# After a run: ",-" / ".-" (an amount's end, on the same line: a list's "-" on the next
# line is not), ",00", or a decimal comma.
_AMOUNT_AFTER = re.compile(r"[ \t]?[,.][ \t]?-(?!-)|,\d")
# Labels, whole words; the nearest one before a number decides (see _label).
_NIK_WORDS = r"nik|ktp|kependudukan"
_PERSON_WORDS = (
    r"nip|hp|telp|tlp|telepon|telpon|phone|ponsel|handphone|wa|whatsapp|mobile|kontak|contact"
)
_LABEL = re.compile(
    r"\b(?:(?P<account>rekening|rek|norek|acc(?:oun)?t|a/c|va"
    r"|resi|tiket|faktur|invoice|kontrak|transaksi|trx|booking|billing)"
    r"|(?P<code>kode|code)"
    rf"|(?P<nik>{_NIK_WORDS})"
    rf"|(?P<person>{_PERSON_WORDS}))\b",
    re.IGNORECASE,
)
# Letters glued to a number that still let it be read: a person's label, alone or after
# "no" ("noHP0812…"), the whole word (checked from at most _GLUE characters back).
_GLUED_LABEL = re.compile(rf"(?<![^\W\d_])(?:no)?(?:{_NIK_WORDS}|{_PERSON_WORDS})\Z", re.IGNORECASE)
_GLUE = 16
# An address's "@" and dots written out to dodge a harvester: "[at]", "(at)", "{at}",
# "<at>", "(@)", "[dot]", "(titik)", "[.]", and "@" with spaces around it; between word
# characters.
_WRITTEN_AT = re.compile(
    r"(?<=\w)(?:[ \t]*[\[({<][ \t]*(?P<at>at|@)[ \t]*[\])}>][ \t]*"
    r"|[ \t]*[\[({<][ \t]*(?:dot|titik|\.)[ \t]*[\])}>][ \t]*"
    r"|(?P<spaced>[ \t]+@[ \t]*|[ \t]*@[ \t]+))(?=\w)",
    re.IGNORECASE,
)
# A bare "at" is an ordinary English word ("available at lapor.go.id"): read as "@" only
# before a domain written with a bare "dot" or "titik" and then a common top-level or
# Indonesian second-level domain ("budi at gmail dot com", "budi at kotaxyz titik go
# titik id"; not "kumpul at kantor titik jam 9") or before a public mail provider's
# name ("budi at gmail.com").
_MAIL_PROVIDERS = r"gmail|googlemail|yahoo|ymail|hotmail|outlook|live|icloud|proton(?:mail)?|aol"
_DOMAIN_ENDS = r"com|net|org|id|co|go|ac|or|sch|web|my|biz|info|edu|gov|me|io|mil|ponpes|desa"
_BARE_AT = re.compile(
    rf"(?<=\w)[ \t]+at[ \t]+(?=[A-Za-z0-9-]+[ \t]+(?:dot|titik)[ \t]+(?:{_DOMAIN_ENDS})\b"
    rf"|(?:{_MAIL_PROVIDERS})\.\w)",
    re.IGNORECASE,
)
# An address's domain written with its dots spaced or as "dot" ("@ gmail . com",
# "@gmail .com", "@gmail dot com", "@gmail titik com"): after an "@", a dot with a space
# before it (a sentence's end, "…@mail.com. Terima", has none).
_SPACED_DOMAIN = re.compile(
    r"@[A-Za-z0-9-]+(?:(?:[ \t]+\.[ \t]*|\.|[ \t]+(?:dot|titik)[ \t]+)[A-Za-z0-9-]+)+",
    re.IGNORECASE,
)
_SPACED_DOT = re.compile(r"[ \t]+\.[ \t]*|[ \t]+(?:dot|titik)[ \t]+", re.IGNORECASE)
_DASHES = "\u2212"  # the minus sign (Sm); every Pd is a dash too
# What may stand between "kode"/"code" and a report code: "Kode laporan saya: …".
_CODE_FILLER = re.compile(
    r"(?:[\s:#=.\-]*(?:laporan|pelaporan|pengaduan|aduan|report|reporter|saya|anda|my"
    r"|your|the|is|adalah|ini|nomor|number|no))*[\s:#=.\-]*",
    re.IGNORECASE,
)
_LOOKBEHIND = 40
_LABEL_GAP = 24  # characters from a label's end to its number, at most
_CODE_SEPARATORS = " .-/"
_SEPARATORS = " .-"  # inside a NIK, a NIP or a phone number ("" too, by a parenthesis)


class _Label(enum.Enum):
    ACCOUNT = "account"
    CODE = "code"
    NIK = "nik"
    PERSON = "person"


def find_identifying(
    fields: Mapping[str, str], *, amount_fields: Collection[str] = ()
) -> list[Finding]:
    """The findings of :func:`scan_identifying` (at most ``LISTED_PER_FIELD`` per
    field)."""
    return scan_identifying(fields, amount_fields=amount_fields).findings


def scan_identifying(fields: Mapping[str, str], *, amount_fields: Collection[str] = ()) -> Scan:
    """Every NIK, NIP, phone number and e-mail address in ``fields`` (name -> text), in
    the order of ``fields`` and, within a field, of the text: the first
    ``LISTED_PER_FIELD`` of each field as findings, the others counted. In the fields
    named in ``amount_fields`` (amounts of money, as the estimated loss) numbers are
    amounts unless written as phone numbers (a leading ``0`` or ``+``). A number found
    as one kind is not found again as another (a NIP is not also a phone number).
    Linear in the texts' length; never raises."""
    scan = Scan()
    for name, typed in fields.items():
        text = normalise(typed or "")
        emails = [(m.start(), m.end(), IdentifyingKind.EMAIL) for m in _EMAIL.finditer(text)]
        taken = bytearray(len(text))
        for start, end, _ in emails:
            taken[start:end] = b"\x01" * (end - start)
        numbers = _numbers(text, taken, amounts=name in amount_fields)
        found = heapq.merge(emails, numbers, key=lambda item: item[0])
        for count, (start, end, kind) in enumerate(found):
            if count >= LISTED_PER_FIELD:
                scan.unlisted[name] = scan.unlisted.get(name, 0) + 1
                continue
            shown = text[start:end]
            if kind is IdentifyingKind.EMAIL:
                shown = _mask_email(shown)
            else:
                shown = _mask_digits(_digits(shown))
            scan.findings.append(Finding(name, kind, shown))
    return scan


def normalise(text: str) -> str:
    """``text`` as the detector reads it: NFKC; format characters (Unicode category Cf:
    U+200B zero-width space, U+2060 word joiner, U+00AD soft hyphen, U+FEFF, direction
    marks) removed; dashes (Pd, U+2212 minus) ``-``; spaces (Zs) `` ``; ``[at]``,
    ``(at)``, `` @ `` an ``@`` and ``[dot]``, ``(titik)`` a ``.`` between word
    characters, and a domain's spaced dots (``@gmail . com``) plain. Linear in the
    length; the result is never longer than NFKC's."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = "".join(_plain(ch) for ch in text)
    text = _WRITTEN_AT.sub(lambda m: "@" if m.group("at") or m.group("spaced") else ".", text)
    text = _BARE_AT.sub("@", text)
    return _SPACED_DOMAIN.sub(lambda m: _SPACED_DOT.sub(".", m.group()), text)


def _plain(ch: str) -> str:
    """A format character removed, a dash ``-``, a space `` ``, a decimal digit of any
    script (Arabic-Indic ``٠٨١٢``) its ASCII digit, else ``ch``."""
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    if category == "Pd" or ch in _DASHES:
        return "-"
    return " " if category == "Zs" else ch


# A file name's extension: its last "." and up to five letters or digits.
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}\Z")
# A camera's time stamp: a date YYYYMMDD, then the time HHMMSS and up to three digits of
# milliseconds (Google Pixel: PXL_20240817_031532123, in UTC; its 0 and eight digits
# read as a landline otherwise).
_CAMERA_STAMP = re.compile(
    r"(?<![0-9])(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:[0-2][0-9]|3[01])[ -]?"
    r"(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9][0-9]{0,3}(?![0-9])"
)


def scan_name(name: str) -> list[Finding]:
    """The identifying details in a file's name (as stored:
    :func:`sipadu.services.attachments.clean_name`), each a :class:`Finding` whose
    ``field`` is ``"name"``: at most :data:`LISTED_PER_FIELD`. The name is read as text
    with ``_`` as a space (``KTP_3201…``, ``surat_budi@…``) and without its extension
    (``budi.s@mail.com.pdf`` holds ``b…@mail.com``); if nothing is found so, the whole
    name is read (a name that is an address, ``budi@mail.com``). Camera and messenger
    names (``IMG_20240131_083015.jpg``, ``PXL_20240817_031532123.jpg``,
    ``IMG-20240131-WA0012.jpg``, ``WhatsApp Image 2024-01-31 at 08.12.34.jpeg``) hold
    none: a camera's time stamp (:data:`_CAMERA_STAMP`) is not read. Never raises."""
    spaced = _CAMERA_STAMP.sub(" ", name.replace("_", " "))
    stem = _EXTENSION.sub("", spaced)
    found = find_identifying({"name": stem})
    if not found and stem != spaced:
        found = find_identifying({"name": spaced})
    return found


@dataclass(frozen=True, slots=True)
class _Run:
    starts: list[int]
    ends: list[int]
    digits: list[str]
    seps: list[str]  # seps[i]: between group i and group i + 1
    plus: bool  # a "+" before the first group
    glued_before: bool  # a letter or digit just before the run
    glued_after: bool


def _numbers(
    text: str, taken: bytearray, *, amounts: bool
) -> Iterator[tuple[int, int, IdentifyingKind]]:
    """The NIKs, NIPs and phone numbers of ``text`` as (start, end, kind), in order,
    none overlapping a span marked in ``taken``."""
    for match in _RUN.finditer(text):
        groups = list(_GROUP.finditer(match.group()))
        offset = match.start()
        starts = [offset + g.start() for g in groups]
        ends = [offset + g.end() for g in groups]
        run = _Run(
            starts,
            ends,
            [g.group() for g in groups],
            [_separator(text[ends[i] : starts[i + 1]]) for i in range(len(groups) - 1)],
            match.group().startswith("+"),
            offset > 0
            and text[offset - 1].isalnum()
            and _GLUED_LABEL.search(text, max(0, offset - _GLUE), offset) is None,
            match.end() < len(text) and text[match.end()].isalnum(),
        )
        for first, last, kind in _read_run(text, run, amounts):
            start = starts[first] - (1 if first == 0 and run.plus else 0)
            end = ends[last]
            if taken.find(1, start, end) == -1:
                yield start, end, kind


def _separator(between: str) -> str:
    """What joins two groups of a run, as one character: ``" - "`` and ``"-"`` are
    ``-``, two spaces one, and next to a parenthesis ``" "`` or ``""`` (``(021)555``)."""
    return between.strip("() ") or (" " if between.strip("()") else "")


def _read_run(text: str, run: _Run, amounts: bool) -> Iterator[tuple[int, int, IdentifyingKind]]:
    """The findings of one run as (first group, last group, kind)."""
    count = len(run.digits)
    amount = [False] * count
    if _AMOUNT_BEFORE.search(text, max(0, run.starts[0] - _LOOKBEHIND), run.starts[0]):
        last = 0
        while last + 1 < count and (
            run.seps[last] == "." or (run.seps[last] == " " and len(run.digits[last + 1]) == 3)
        ):
            last += 1
        amount[: last + 1] = [True] * (last + 1)
    tail_amount = _AMOUNT_AFTER.match(text, run.ends[-1]) is not None or (
        count > 1 and run.seps[-1] == "." and run.digits[-1] == "00"
    )
    if tail_amount:
        first = count - 1
        while first > 0 and run.seps[first - 1] == ".":
            first -= 1
        amount[first:] = [True] * (count - first)
    i = 1 if run.glued_before else 0
    while i < count:
        if amount[i]:
            i += 1
            continue
        found = _read_at(text, run, i, amount, amounts)
        if found is None:
            i += 1
            continue
        last, kind = found
        if kind is not None:
            yield i, last, kind
        i = last + 1


def _read_at(
    text: str, run: _Run, i: int, amount: list[bool], amounts: bool
) -> tuple[int, IdentifyingKind | None] | None:
    """What starts at group ``i``: (its last group, its kind, or None for a number that
    is none of the kinds: a code, an amount, a labelled account), or None: nothing."""
    digits, seps = run.digits, run.seps
    plus = i == 0 and run.plus
    lead = digits[i]
    if amounts and not plus and not lead.startswith("0"):
        return i, None  # an amount field's number
    if not plus:
        # A report code as SIPADU shows it: 4 groups of 4 digits; a NIK if it has one's
        # structure (a code never has: new_code), unless labelled as a code or account.
        last = i + 3
        if (
            len(lead) == 4
            and _fits(run, i, last, (4, 4, 4, 4), _CODE_SEPARATORS)
            and len(set(seps[i:last])) == 1
        ):
            joined = "".join(digits[i : last + 1])
            if (
                seps[i] in _SEPARATORS
                and plausible_nik(joined)
                and _label(text, run.starts[i]) not in (_Label.CODE, _Label.ACCOUNT)
            ):
                return last, IdentifyingKind.NIK
            return last, None
        for shape, kind in _SHAPES:
            last = i + len(shape) - 1
            # any of the separators, mixed too: the region code as written, 32.01.01,
            # then the rest, 32.01.01-310890-0001
            if len(lead) != shape[0] or not _fits(run, i, last, shape, _SEPARATORS):
                continue
            joined = "".join(digits[i : last + 1])
            if not (plausible_nik if kind is IdentifyingKind.NIK else plausible_nip)(joined):
                continue
            label = _label(text, run.starts[i])
            if label is _Label.ACCOUNT or (label is _Label.CODE and len(shape) == 1):
                return last, None  # a bank account, a report code
            return last, kind
        # A NIK or NIP in other groups, all of one separator: in pairs (32 01 01 31 08
        # 90 0001), or digit by digit; sixteen or eighteen digits, with its structure.
        regrouped = _regrouped(run, i, (16, 18))
        if regrouped is not None:
            last, joined = regrouped
            kind = IdentifyingKind.NIK if len(joined) == 16 else IdentifyingKind.NIP
            if (plausible_nik if kind is IdentifyingKind.NIK else plausible_nip)(joined):
                if _label(text, run.starts[i]) in (_Label.ACCOUNT, _Label.CODE):
                    return last, None
                return last, kind
        # An amount grouped in threes with dots: 62.500.000.000.
        if 1 <= len(lead) <= 3 and not lead.startswith("0"):
            last = i
            while last + 1 < len(digits) and seps[last] == "." and len(digits[last + 1]) == 3:
                last += 1
            if last > i and (last + 1 == len(digits) or seps[last] != "."):
                return last, None
    if not plus and lead == "0":  # digit by digit: 0 8 1 2 3 4 5 6 7 8 9 0
        regrouped = _regrouped(run, i, range(10, 14))
        if regrouped is not None and not any(amount[i : regrouped[0] + 1]):
            last, joined = regrouped
            if joined.startswith("08") and plausible_phone(joined):
                return last, IdentifyingKind.PHONE
    if not (plus or (lead.startswith("0") and len(lead) >= 3) or lead.startswith("62")):
        return None  # no phone number starts so
    # A mobile number may be written with slashes (0812/3456/7890); no date starts 08xx.
    slashed = lead.startswith("08") and not plus
    for last in range(min(len(digits) - 1, i + 5), i - 1, -1):
        if any(amount[i : last + 1]) or (last + 1 == len(digits) and run.glued_after):
            continue
        if any(s not in _SEPARATORS and s != "" for s in seps[i:last]) and not (
            slashed and set(seps[i:last]) == {"/"}
        ):
            continue
        if _phone_shaped(digits[i : last + 1], plus):
            if _label(text, run.starts[i] - (1 if plus else 0)) is _Label.ACCOUNT:
                return last, None
            return last, IdentifyingKind.PHONE
    return None


# NIP: eighteen digits, unbroken, or grouped as printed: 8-6-1-3. NIK: sixteen digits,
# unbroken, or grouped as on a KTP form: 2-2-2-6-4 or 6-6-4.
_SHAPES: tuple[tuple[tuple[int, ...], IdentifyingKind], ...] = (
    ((18,), IdentifyingKind.NIP),
    ((8, 6, 1, 3), IdentifyingKind.NIP),
    ((16,), IdentifyingKind.NIK),
    ((2, 2, 2, 6, 4), IdentifyingKind.NIK),
    ((6, 6, 4), IdentifyingKind.NIK),
)


def _fits(run: _Run, first: int, last: int, shape: tuple[int, ...], separators: str) -> bool:
    """Whether groups ``first``..``last`` have these lengths and separators, and the
    last is not glued to a letter."""
    if last >= len(run.digits) or (last + 1 == len(run.digits) and run.glued_after):
        return False
    if any(len(run.digits[first + k]) != n for k, n in enumerate(shape)):
        return False
    return all(len(s) == 1 and s in separators for s in run.seps[first:last])


def _regrouped(run: _Run, i: int, lengths: Collection[int]) -> tuple[int, str] | None:
    """Groups from ``i`` on, all joined by one separator of :data:`_SEPARATORS`, either
    all single digits or all of two or more, whose digits number one of ``lengths``
    (the most that fits, at most 18 digits looked at): (the last group, the digits);
    None if there are none such or the last is glued to a letter."""
    digits, seps = run.digits, run.seps
    single = len(digits[i]) == 1
    found = None
    joined = ""
    last = i
    while last < len(digits) and (len(digits[last]) == 1) == single:
        if last > i and not (seps[last - 1] == seps[i] and seps[i] in _SEPARATORS):
            break
        joined += digits[last]
        if len(joined) > 18:
            break
        if len(joined) in lengths and last > i:
            found = last, joined
        last += 1
    if found is None or (found[0] + 1 == len(digits) and run.glued_after):
        return None
    return found


def _phone_shaped(groups: list[str], plus: bool) -> bool:
    """Whether digit groups read as a phone number written +62…, 62… or 0…: a first
    group of at least three digits (0812, 021, 62812; +62 and 62 alone are followed
    by the area's group), then groups of at least 2 digits, and the digits plausible."""
    first, rest = groups[0], groups[1:]
    if first == "62" and rest[:1] == ["0"] and len(rest) > 1:
        # +62 (0)812…: the trunk prefix in brackets, as printed on business cards
        first, rest = "62" + rest[1], rest[2:]
        groups = [first, *rest]
    if first == "62":
        if not rest or not 2 <= len(rest[0]) <= 4 or rest[0][0] == "0":
            return False
        rest = rest[1:]
    elif first.startswith("0") and not plus:
        if len(first) < 3 or first[1] == "0":
            return False
    elif not (first.startswith("62") and len(first) >= 4 and first[2] != "0"):
        return False
    if any(len(g) < 2 for g in rest):
        return False
    return plausible_phone("".join(groups))


def _label(text: str, start: int) -> _Label | None:
    """The nearest label before ``start`` on its line with no digit between, if it is
    at most ``_LABEL_GAP`` characters before (a code's label only with the words of
    ``_CODE_FILLER`` between)."""
    window = text[max(0, start - _LOOKBEHIND) : start]
    cut = max(window.rfind("\n"), max((window.rfind(d) for d in "0123456789"), default=-1))
    window = window[cut + 1 :]
    labels = list(_LABEL.finditer(window))
    nearest = labels[-1] if labels else None
    if nearest is None or len(window) - nearest.end() > _LABEL_GAP:
        return None
    label = _Label(nearest.lastgroup)
    if label is _Label.CODE and not _CODE_FILLER.fullmatch(window, nearest.end()):
        return None
    return label


def plausible_nik(digits: str) -> bool:
    """Whether 16 digits have a NIK's structure (UU No. 23 Tahun 2006 jo. UU No. 24
    Tahun 2013 tentang Administrasi Kependudukan, Pasal 13; Permendagri No. 72 Tahun
    2019 for the region codes): province (2 digits, :data:`PROVINCES`), regency or city
    (2, not 00), district (2, not 00), date of birth DDMMYY with 40 added to the day
    for women (01-31 or 41-71; month 01-12), and a 4-digit sequence (not 0000)."""
    if len(digits) != 16 or not digits.isdigit():
        return False
    province, regency, district = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    day, month, sequence = int(digits[6:8]), int(digits[8:10]), int(digits[12:16])
    if day > 40:
        day -= 40
    return (
        province in PROVINCES
        and regency > 0
        and district > 0
        and 1 <= day <= 31
        and 1 <= month <= 12
        and sequence > 0
    )


def plausible_nip(digits: str) -> bool:
    """Whether 18 digits have a NIP's structure (PP No. 11 Tahun 2017 tentang Manajemen
    PNS, and Peraturan Kepala BKN No. 22 Tahun 2007 on the NIP's form): date of birth
    YYYYMMDD, month of appointment YYYYMM (at least 15 years after the birth year), sex
    (1 man, 2 woman) and a 3-digit sequence (not 000)."""
    if len(digits) != 18 or not digits.isdigit():
        return False
    born, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    appointed, appointed_month = int(digits[8:12]), int(digits[12:14])
    sex, sequence = digits[14], int(digits[15:18])
    return (
        1930 <= born <= 2015
        and 1 <= month <= 12
        and 1 <= day <= 31
        and born + 15 <= appointed <= 2060
        and 1 <= appointed_month <= 12
        and sex in "12"
        and sequence > 0
    )


def plausible_phone(digits: str) -> bool:
    """Whether the digits of a number written +62…/62…/0… are an Indonesian phone
    number (ITU-T E.164 country code 62; Permenkominfo No. 14 Tahun 2018 numbering
    plan): a mobile number 08[1-9] + 7-10 digits (10-13 with the 0), or a landline 0 +
    area code (2-3 digits, not 08) + subscriber number, 9-11 digits with the 0."""
    national = "0" + digits[2:] if digits.startswith("62") else digits
    if not national.startswith("0"):
        return False
    if national.startswith("08"):
        return national[2] != "0" and 10 <= len(national) <= 13
    return national[1] != "0" and 9 <= len(national) <= 11


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _mask_digits(digits: str) -> str:
    return "\u2026" + digits[-4:]


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return local[:1] + "\u2026@" + domain
