"""Details in a reporter's own text that could identify a person (issue 21 item 3):
Indonesian population numbers (NIK), civil-servant numbers (NIP), Indonesian phone
numbers and e-mail addresses. The reporter portal checks a report's text fields and a
mailbox message with :func:`scan_identifying` before anything is stored, and warns; it
never refuses (the reporter decides, and the identity field is where such details are
expected, so it is never checked).

How numbers are read: the text is cut into *runs*, digit groups joined by one space,
dot, dash or slash (or a parenthesis: ``(021)555``), never across a line break; a run
is read group by group, from its start, and at each group the first of these that fits
is taken: a report code's shape, a NIP, a NIK, an amount, the longest phone number that
starts there (so ``0812-3456-7890 15 kali`` is the phone number and then ``15``);
nothing fits: the next group. Labels are whole words, and only the nearest one before a
number, on its line, with no digit between, counts (``kode etik, NIK saya …`` is
labelled NIK).

What is *not* found, on purpose (each tested in tests/services/test_identifying.py and
tests/test_review_warning.py):

- amounts: a number after ``Rp``/``IDR``, or followed by ``,00`` / ``.00`` / ``,-``,
  and any number grouped in threes with dots (``62.500.000.000``); in the fields named
  as amount fields (the estimated loss) every number not written as a phone number is
  (``0…``, ``+62…``: an amount never starts so) is an amount;
- dates (``2024-01-31``, ``31/01/2024``, ``31.01.2024 10.30``): a phone number needs a
  first group of at least three digits, and a slash is never inside one;
- report codes: sixteen digits written in groups of four (how SIPADU shows them:
  :func:`sipadu.services.passphrases.format_code`) unless labelled NIK/KTP, or sixteen
  digits labelled as a code (``kode``, ``code``, ``kode laporan:``; not ``kode etik``);
- numbers labelled as bank accounts ("rekening", "no. rek", "account": a bank's name
  may come between): these are most often the reported people's accounts, i.e. the
  evidence itself, and an account number is none of the four kinds;
- NIK- or NIP-length numbers without a plausible structure, and any number glued to a
  letter (``INV3201...``) or part of a longer group of digits.

Text is normalised (NFKC: full-width digits become ASCII) before it is looked at. The
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

# A run: digit groups (a "+" before the first; any in parentheses) joined by one space,
# dot, dash or slash, or by nothing next to a parenthesis. Never a line break or a tab.
_RUN = re.compile(r"\+?\(?\d+\)?(?:(?:[ .\-/]|(?<=\))|(?=\())\(?\d+\)?)*")
_GROUP = re.compile(r"\d+")
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b"
)
_AMOUNT_BEFORE = re.compile(r"(?:rp|idr)\.?[ \t]*$", re.IGNORECASE)
# After a run: ",-" / ".-" (an amount's end, on the same line: a list's "-" on the next
# line is not), ",00", or a decimal comma.
_AMOUNT_AFTER = re.compile(r"[ \t]?[,.][ \t]?-(?!-)|,\d")
# Labels, whole words; the nearest one before a number decides (see _label).
_LABEL = re.compile(
    r"\b(?:(?P<account>rekening|rek|norek|acc(?:oun)?t|a/c|va)"
    r"|(?P<code>kode|code)"
    r"|(?P<nik>nik|ktp|kependudukan)"
    r"|(?P<person>nip|hp|telp|tlp|telepon|telpon|phone|ponsel|handphone|wa|whatsapp"
    r"|mobile|kontak|contact))\b",
    re.IGNORECASE,
)
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
        text = unicodedata.normalize("NFKC", typed or "")
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
            [text[ends[i] : starts[i + 1]].strip("()") for i in range(len(groups) - 1)],
            match.group().startswith("+"),
            offset > 0 and text[offset - 1].isalnum(),
            match.end() < len(text) and text[match.end()].isalnum(),
        )
        for first, last, kind in _read_run(text, run, amounts):
            start = starts[first] - (1 if first == 0 and run.plus else 0)
            end = ends[last]
            if taken.find(1, start, end) == -1:
                yield start, end, kind


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
        # A report code as SIPADU shows it: 4 groups of 4 digits.
        last = i + 3
        if (
            len(lead) == 4
            and _fits(run, i, last, (4, 4, 4, 4), _CODE_SEPARATORS)
            and len(set(seps[i:last])) == 1
        ):
            label = _label(text, run.starts[i])
            joined = "".join(digits[i : last + 1])
            if label is _Label.NIK and plausible_nik(joined):
                return last, IdentifyingKind.NIK
            return last, None
        for shape, kind in _SHAPES:
            last = i + len(shape) - 1
            if (
                len(lead) != shape[0]
                or not _fits(run, i, last, shape, _SEPARATORS)
                or len(set(seps[i:last])) > 1
            ):
                continue
            joined = "".join(digits[i : last + 1])
            if not (plausible_nik if kind is IdentifyingKind.NIK else plausible_nip)(joined):
                continue
            label = _label(text, run.starts[i])
            if label is _Label.ACCOUNT or (label is _Label.CODE and len(shape) == 1):
                return last, None  # a bank account, a report code
            return last, kind
        # An amount grouped in threes with dots: 62.500.000.000.
        if 1 <= len(lead) <= 3 and not lead.startswith("0"):
            last = i
            while last + 1 < len(digits) and seps[last] == "." and len(digits[last + 1]) == 3:
                last += 1
            if last > i and (last + 1 == len(digits) or seps[last] != "."):
                return last, None
    if not (plus or (lead.startswith("0") and len(lead) >= 3) or lead.startswith("62")):
        return None  # no phone number starts so
    for last in range(min(len(digits) - 1, i + 5), i - 1, -1):
        if any(amount[i : last + 1]) or (last + 1 == len(digits) and run.glued_after):
            continue
        if any(s not in _SEPARATORS and s != "" for s in seps[i:last]):
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


def _phone_shaped(groups: list[str], plus: bool) -> bool:
    """Whether digit groups read as a phone number written +62…, 62… or 0…: a first
    group of at least three digits (0812, 021, 62812; +62 and 62 alone are followed
    by the area's group), then groups of at least 2 digits, and the digits plausible."""
    first, rest = groups[0], groups[1:]
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
