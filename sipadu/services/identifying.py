"""Details in a reporter's own text that could identify a person (issue 21 item 3):
Indonesian population numbers (NIK), civil-servant numbers (NIP), Indonesian phone
numbers and e-mail addresses. The reporter portal checks a report's text fields and a
mailbox message with :func:`find_identifying` before anything is stored, and warns; it
never refuses (the reporter decides, and the identity field is where such details are
expected, so it is never checked).

What is *not* found, on purpose (each tested in tests/services/test_identifying.py):

- amounts: a number after ``Rp``/``IDR`` or followed by ``,00`` / ``.00``, and any
  number grouped in threes (``1.234.567.890.123.456``);
- dates (``2024-01-31``, ``31/01/2024``, ``31.01.2024 10.30``): a phone number needs a
  first group of at least three digits, and a slash is never inside one;
- report codes: sixteen digits written in groups of four (how SIPADU shows them:
  :func:`sipadu.services.passphrases.format_code`), or sixteen digits labelled as a
  code ("kode", "code") just before them;
- bank account numbers labelled as such ("rekening", "no. rek", "account"): these are
  most often the reported people's accounts, i.e. the evidence itself, and an account
  number is none of the four kinds; an unlabelled 16-digit number that has a NIK's
  structure is still found;
- NIK- or NIP-length numbers without a plausible structure, and any number that is
  part of a longer run of digits (or of a word: ``INV3201...``).

Text is normalised (NFKC: full-width digits become ASCII) before it is looked at.
Nothing found is logged: the values are shown to the reporter only, masked
(:attr:`Finding.shown`).
"""

import enum
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial


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


# Province codes (the NIK's first two digits) of Kemendagri's administrative codes
# (Permendagri No. 72 Tahun 2019, updated by Kepmendagri No. 100.1.1-6117 Tahun 2022
# for the new Papuan provinces 93-96). A number that starts with another pair is not a
# NIK.
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53}
    | {61, 62, 63, 64, 65, 71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96}
)

_SEP = r"[ .\-]"
_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9A-Za-z]|[.,]\d)"
# NIK: sixteen digits, unbroken, or grouped as on a KTP form: 2-2-2-6-4 or 6-6-4.
_NIK = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(\d{16}|\d\d(?P<s1>"
    + _SEP
    + r")\d\d(?P=s1)\d\d(?P=s1)\d{6}(?P=s1)\d{4}|\d{6}(?P<s2>"
    + _SEP
    + r")\d{6}(?P=s2)\d{4})"
    + _NOT_DIGIT_AFTER
)
# NIP: eighteen digits, unbroken, or grouped as printed: 8-6-1-3.
_NIP = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(\d{18}|\d{8}(?P<s>"
    + _SEP
    + r")\d{6}(?P=s)\d(?P=s)\d{3})"
    + _NOT_DIGIT_AFTER
)
# Phone: +62 / 62 / 0, then a first group of at least three digits (0812, 021, (021),
# +62 812, +62 21), then groups of digits separated by one space, dot or dash.
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])"
    r"(?:(?:\+62|62)[ .\-]?\(?[1-9]\d{1,3}\)?|\(0[1-9]\d{1,3}\)|0[1-9]\d{1,3})"
    r"(?:[ .\-]?\d{2,5}){1,4}"
    r"(?![0-9A-Za-z]|[.,]\d)"
)
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b"
)
# A report code as SIPADU shows it (four groups of four digits): taken before anything
# else is looked for, so that no part of it is read as a phone number or a NIK.
_CODE_SHAPE = re.compile(
    _NOT_DIGIT_BEFORE + r"\d{4}[ .\-/]\d{4}[ .\-/]\d{4}[ .\-/]\d{4}" + _NOT_DIGIT_AFTER
)
_AMOUNT_BEFORE = re.compile(r"(?:rp|idr)\.?\s*$", re.IGNORECASE)
_AMOUNT_AFTER = re.compile(r"^\s*[,.]\s*-|^[,.]0{2}(?!\d)")
_CODE_BEFORE = re.compile(r"\b(?:kode|code)\b[^0-9\n]{0,24}$", re.IGNORECASE)
_ACCOUNT_BEFORE = re.compile(
    r"\b(?:rekening|rek|norek|acc(?:oun)?t|a/c|va|virtual account)\b[^0-9\n]{0,24}$",
    re.IGNORECASE,
)
_LOOKBEHIND = 40


def find_identifying(fields: Mapping[str, str]) -> list[Finding]:
    """Every NIK, NIP, phone number and e-mail address in ``fields`` (name -> text), in
    the order of ``fields`` and, within a field, of the text. A number found as one kind
    is not found again as another (a NIP is not also a phone number). Never raises."""
    findings: list[Finding] = []
    for name, typed in fields.items():
        text = unicodedata.normalize("NFKC", typed or "")
        taken = [match.span() for match in _CODE_SHAPE.finditer(text)]
        found: list[tuple[int, Finding]] = []
        add = partial(_add, taken, found, name)
        for match in _EMAIL.finditer(text):
            add(match.start(), match.end(), IdentifyingKind.EMAIL, _mask_email(match.group()))
        for match in _NIP.finditer(text):
            digits = _digits(match.group(1))
            if _plain_number(text, match.start(), match.end()) and plausible_nip(digits):
                add(match.start(), match.end(), IdentifyingKind.NIP, _mask_digits(digits))
        for match in _NIK.finditer(text):
            digits = _digits(match.group(1))
            before = text[max(0, match.start() - _LOOKBEHIND) : match.start()]
            if (
                _plain_number(text, match.start(), match.end())
                and not _CODE_BEFORE.search(before)
                and not _ACCOUNT_BEFORE.search(before)
                and plausible_nik(digits)
            ):
                add(match.start(), match.end(), IdentifyingKind.NIK, _mask_digits(digits))
        for match in _PHONE.finditer(text):
            digits = _digits(match.group())
            if _plain_number(text, match.start(), match.end()) and plausible_phone(digits):
                add(match.start(), match.end(), IdentifyingKind.PHONE, _mask_digits(digits))
        findings.extend(finding for _, finding in sorted(found, key=lambda pair: pair[0]))
    return findings


def _add(
    taken: list[tuple[int, int]],
    found: list[tuple[int, Finding]],
    name: str,
    start: int,
    end: int,
    kind: IdentifyingKind,
    shown: str,
) -> None:
    """Record a finding unless its span overlaps one already taken."""
    if any(start < e and s < end for s, e in taken):
        return
    taken.append((start, end))
    found.append((start, Finding(name, kind, shown)))


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


def _plain_number(text: str, start: int, end: int) -> bool:
    """Not an amount: no ``Rp``/``IDR`` just before it, no ``,00``/``,-`` after it."""
    before = text[max(0, start - _LOOKBEHIND) : start]
    return not _AMOUNT_BEFORE.search(before) and not _AMOUNT_AFTER.search(text[end:])


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _mask_digits(digits: str) -> str:
    return "\u2026" + digits[-4:]


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return local[:1] + "\u2026@" + domain
