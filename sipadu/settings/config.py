"""Configuration: one pure function from an environment mapping to a frozen ``Config``.

``load_config(env)`` is the only place that interprets ``SIPADU_*`` variables, and
``from_environ()`` the only place in SIPADU that reads ``os.environ``. Tests build
configs from plain dicts. Secrets given here (hex) override those generated into the
instance folder (see :mod:`sipadu.secrets`), so several hosts can share one set.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from sipadu.crypto import Argon2Params, CryptoError

MIB = 1024 * 1024
E = TypeVar("E", bound=StrEnum)


class ConfigError(Exception):
    """The configuration is invalid or unsafe; the message says which variable and why."""


class Environment(StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"


class DatePrecision(StrEnum):
    """How reporter-side dates are coarsened before they are stored (G2)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def period_start(self, day: date) -> date:
        """The first day of the period holding ``day``: itself, its ISO week's Monday,
        or its month's 1st. What is stored in place of a reporter-side date."""
        if self is DatePrecision.WEEK:
            return day - timedelta(days=day.weekday())
        if self is DatePrecision.MONTH:
            return day.replace(day=1)
        return day

    def period_end(self, day: date) -> date:
        """The last day of the period holding ``day``: itself, its ISO week's Sunday, or
        its month's last day. Deadlines count from it: counted from the period's start,
        a report sent on 30 November with month precision was told it would be answered
        "by 8 November" (found in review); from its end they never lie in the past and
        say nothing finer than the period."""
        if self is DatePrecision.WEEK:
            return self.period_start(day) + timedelta(days=6)
        if self is DatePrecision.MONTH:
            following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
            return following - timedelta(days=1)
        return day


class DayCount(StrEnum):
    """How deadlines count days: every day, or Indonesian working days."""

    CALENDAR = "calendar"
    WORKING = "working"


@dataclass(frozen=True)
class SecretOverrides:
    """Secrets given through configuration (bytes), or None to use the instance folder."""

    reporter_session_key: bytes | None = None
    staff_session_key: bytes | None = None
    lookup_salt: bytes | None = None
    audit_signing_key: bytes | None = None

    def __repr__(self) -> str:
        given = [name for name, value in vars(self).items() if value is not None]
        return f"SecretOverrides(given={given})"


@dataclass(frozen=True)
class Bilingual:
    """A text an operator gives in Bahasa Indonesia and in English."""

    id: str
    en: str

    def in_language(self, language: str) -> str:
        return self.en if language == "en" else self.id


@dataclass(frozen=True)
class Institution:
    """The office that runs this portal, named on every reporter page (issue 16 item 8):
    a reporter must know whom they are telling, where to report in person, and on what
    legal basis. The defaults are examples, marked so on the page, that ``sipadu check``
    warns about in production."""

    name: str = "Inspektorat Provinsi DKI Jakarta (contoh)"
    description: Bilingual = Bilingual(
        "Aparat pengawasan internal pemerintah daerah yang menerima dan menindaklanjuti "
        "pengaduan pelanggaran (contoh: ganti dengan uraian kantor Anda).",
        "The internal oversight office of the regional government, which receives and "
        "follows up reports of wrongdoing (example: replace with your office's own words).",
    )
    address: str = "Jl. Contoh No. 1, Jakarta Pusat 10110 (contoh)"
    hours: Bilingual = Bilingual(
        "Senin-Jumat, 08.00-16.00 WIB (contoh)", "Monday to Friday, 08:00-16:00 WIB (example)"
    )
    phone: str = "(021) 000-0000 (contoh)"
    legal_basis: Bilingual = Bilingual(
        "Peraturan Gubernur Nomor … Tahun … tentang Penanganan Pengaduan (contoh)",
        "Governor Regulation No. … of … on Handling Complaints (example)",
    )

    def example_settings(self) -> list[str]:
        """The ``SIPADU_INSTITUTION_*`` settings still at their example values."""
        default = Institution()
        return [
            f"SIPADU_INSTITUTION_{name.upper()}"
            for name in ("name", "description", "address", "hours", "phone", "legal_basis")
            if getattr(self, name) == getattr(default, name)
        ]


# Where operators take reports in, by default: the counters (SIPADU_INTAKE_OFFICES).
INTAKE_OFFICES = (
    "Kantor Inspektorat",
    "Kantor Wali Kota",
    "Kantor Kecamatan",
    "Kantor Kelurahan",
)
# An office's name, in UTF-8: it is in an audit entry's detail, and the sealed intake
# field of every report (sipadu.services.intake) must fit one padding bucket whatever the
# office, so that its size says nothing of how a report came in (G2).
OFFICE_BYTES = 120


class MailSecurity(StrEnum):
    """How the digest's SMTP connection is protected (``SIPADU_SMTP_URL``'s scheme)."""

    STARTTLS = "smtp"  # RFC 3207: plain connect, then STARTTLS, refused if not offered
    TLS = "smtps"  # RFC 8314: TLS from the first byte (port 465)
    PLAIN = "smtp+plain"  # no TLS: a relay on this host (loopback addresses) only


MAIL_PORTS = {MailSecurity.STARTTLS: 587, MailSecurity.TLS: 465, MailSecurity.PLAIN: 25}
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class MailSettings:
    """Where the staff's daily digest is sent from (issue 19; docs/deploy.md "E-mail
    digest"): the server, how the connection is protected, the sender (``From``), the
    login (``SIPADU_SMTP_USERNAME`` / ``SIPADU_SMTP_PASSWORD``; never in the URL, so the
    URL may be shown) and a CA bundle to trust instead of the system's (a private CA)."""

    security: MailSecurity
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    timeout_seconds: int = 30

    def __repr__(self) -> str:
        login = "given" if self.username else "none"
        return f"MailSettings({self.security.value}://{self.host}:{self.port}, login={login})"


@dataclass(frozen=True)
class Config:
    env: Environment = Environment.PRODUCTION
    instance_path: Path = Path("instance")
    database_url: str = ""
    redis_url: str | None = None
    argon2: Argon2Params = field(default_factory=Argon2Params)
    lookup_argon2: Argon2Params = field(default_factory=Argon2Params)
    max_request_bytes: int = 500 * MIB
    max_file_bytes: int = 500 * MIB
    max_files: int = 20
    image_cleaners: int = 2  # cleaning children (every file type) at once on this host
    image_pixels_per_request: int = 150_000_000  # decoded pixels one request may clean
    image_cleaner_memory_bytes: int = 1024 * MIB  # each child's address space
    image_cleaner_cpu_seconds: int = 20
    # Documents, audio and video (mat2, ffmpeg; sipadu.evidence.docclean): each child's
    # address space, which mat2's and ffmpeg's own processes share as a limit each (ffmpeg
    # alone needs about 250 MiB to load its libraries), and CPU time per process.
    document_cleaner_memory_bytes: int = 1024 * MIB
    document_cleaner_cpu_seconds: int = 60  # each child's, all its processes together
    # Seconds of document cleaning one request may use, its children's together (each
    # charged the longer of its wall-clock and CPU time): three children's worth.
    document_seconds_per_request: int = 180
    # Safe copies for investigators (sipadu.evidence.safe_copy; docs/casework.md "Safe
    # copies"): converters at once on this host, pages, resolution, pixels, and each
    # child's limits. LibreOffice needs far more address space than PDFium or Pillow.
    safe_copy_converters: int = 1
    safe_copy_max_pages: int = 500
    safe_copy_dpi: int = 150
    safe_copy_page_pixels: int = 16_000_000  # one page; fewer dots per inch above it
    safe_copy_total_pixels: int = 1_500_000_000  # the whole file (500 A4 pages at 150 dpi)
    safe_copy_max_bytes: int = 200 * MIB  # larger files get no safe copy
    safe_copy_memory_bytes: int = 1024 * MIB  # render and build children
    safe_copy_office_memory_bytes: int = 2048 * MIB  # LibreOffice and its render child
    safe_copy_cpu_seconds: int = 60  # each child (LibreOffice: its own 60 s too)
    date_precision: DatePrecision = DatePrecision.DAY
    ack_days: int = 7
    feedback_days: int = 90
    day_count: DayCount = DayCount.CALENDAR
    # A referral's follow-up: the holders should record the agency's answer within this
    # many days (counted as ``day_count`` says) of referring a report (issue 20).
    referral_follow_up_days: int = 30
    reporter_bind: str = "127.0.0.1:5000"
    staff_bind: str = "127.0.0.1:5001"
    workers: int = 1  # 2 with Redis; any number: the limits are counted per host or in Redis
    threads: int = 8
    heartbeat_seconds: int = 120  # gunicorn worker timeout: a hung worker, not a slow upload
    # The front (sipadu/hosting/front.py): slow or stalled clients cost a connection, not a thread.
    head_timeout_seconds: int = 10  # a request's line and headers, complete within this
    body_timeout_seconds: int = 20  # window over which a body's pace is measured
    body_min_rate: int = 1024  # bytes per second of waiting for the body, per window
    small_body_bytes: int = 64 * 1024  # received whole before a thread takes the request
    upload_slots: int = 4  # larger bodies received at once, per worker (threads of their own)
    # Files kept across a warning (sipadu.web.kept_files): the database's staged bytes
    # (uploads in flight included) a warned form may keep its new files within; by
    # default as much as one host's uploads in flight (docs/deploy.md).
    kept_files_bytes: int = 4 * 1 * 500 * MIB
    upload_queue: int = 16  # uploads waiting for a slot at once, per worker; more: 503
    upload_wait_seconds: int = 30  # an upload waits this long for a slot, then 503
    contended_rate: int = 32 * 1024  # bytes/s an upload keeps while others wait for a slot
    send_timeout_seconds: int = 60  # a client that takes nothing of an answer this long: dropped
    download_slots: int = 4  # streamed answers (downloads, exports) at once, per worker
    max_connections: int = 1000  # open connections per worker; past this, uvicorn's 503
    recovery_public_key: str | None = None
    # The audit checkpoints' public key (hex), for hosts that verify the log without
    # reading the signing key: what a stored checkpoint must be signed by (docs/audit.md).
    audit_public_key: str | None = None
    mailbox_idle_seconds: int = 15 * 60
    mailbox_failures_per_code: str = "10 per hour"
    staff_idle_seconds: int = 30 * 60
    staff_absolute_seconds: int = 10 * 3600
    staff_failures_per_account: str = "10 per hour"
    # The instance's own names (office, city, region...), phrases a guesser tries first
    # against its staff passwords and reporters' passphrases (sipadu.services.passphrases).
    password_extra_words: tuple[str, ...] = ()
    # Argon2id derivations on request paths, per portal and host (sipadu.web.derivations):
    # measured on 2 cores, two at once double the throughput of one, a third adds none.
    # At least 2: each portal reserves one for a lane strangers cannot fill (derivations).
    kdf_slots: int = 2
    kdf_queue: int = 4
    kdf_wait_ms: int = 2000
    kdf_nice: int = 10  # derivation threads' nice value: they take only CPU others leave
    reports_per_hour: int = 60  # new reports over the whole reporter portal, never per client
    enrollment_link_hours: int = 72
    retention_closed_days: int = 5 * 365 + 1
    retention_rejected_days: int = 365
    # The public transparency report (docs/transparency.md): a figure below this is not
    # published, nor any figure it could be worked out from.
    transparency_threshold: int = 5
    faults: frozenset[str] = frozenset()  # fault injection: tests only, never production
    onion_address: str | None = None  # the reporter portal's v3 onion service
    # intake (issue 18): the reporter portal's ordinary address, printed on an operator's
    # slip (with its QR code) beside the onion address; and the offices where operators
    # take reports in, until the list of units admins configure replaces it (docs/intake.md).
    web_address: str | None = None
    intake_offices: tuple[str, ...] = INTAKE_OFFICES
    institution: Institution = field(default_factory=Institution)
    # The staff's daily digest (issue 19): SMTP (None: shown on the home page instead),
    # the hour it is sent at, in the instance's time zone (an IANA name).
    mail: MailSettings | None = None
    time_zone: str = "Asia/Jakarta"
    digest_hour: int = 7
    # The mail domains digest addresses must be at (empty: any), SIPADU_NOTIFY_DOMAINS.
    notify_domains: tuple[str, ...] = ()
    volatile_path: Path | None = None
    secrets: SecretOverrides = field(default_factory=SecretOverrides)

    @property
    def production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def instance_words(self) -> tuple[str, ...]:
        """Phrases a guesser of this instance's passwords tries first: the
        ``SIPADU_PASSWORD_EXTRA_WORDS``, then the institution's name and address
        (``SIPADU_INSTITUTION_NAME`` / ``_ADDRESS``), which are on every reporter page."""
        return (*self.password_extra_words, self.institution.name, self.institution.address)

    @property
    def sqlite_path(self) -> Path:
        return self.instance_path / "sipadu.db"


def _choice(env: Mapping[str, str], name: str, kind: type[E], default: E) -> E:
    raw = env.get(name, default.value).strip().lower()
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ConfigError(f"{name}={raw!r} is not one of: {allowed}") from None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _argon2(env: Mapping[str, str], prefix: str) -> Argon2Params:
    default = Argon2Params()
    try:
        return Argon2Params(
            time_cost=_int(env, f"{prefix}_TIME_COST", default.time_cost),
            memory_kib=_int(env, f"{prefix}_MEMORY_KIB", default.memory_kib),
            parallelism=_int(env, f"{prefix}_PARALLELISM", default.parallelism),
        )
    except CryptoError as exc:
        raise ConfigError(f"{prefix}_*: {exc}") from None


def _public_hex(env: Mapping[str, str], name: str) -> str | None:
    """A 32-byte public key given as hex, normalised to lower case."""
    value = _secret(env, name, 32)
    return value.hex() if value is not None else None


def _secret(env: Mapping[str, str], name: str, length: int) -> bytes | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        raise ConfigError(f"{name} must be hex") from None
    if len(value) != length:
        raise ConfigError(f"{name} must be {length} bytes ({2 * length} hex digits)")
    return value


def _limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate limit in the ``limits`` notation, e.g. "10 per hour"."""
    from limits import parse

    raw = env.get(name) or default
    try:
        parse(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a rate limit like '10 per hour'") from None
    return raw


def _workers(env: Mapping[str, str]) -> int:
    """Worker processes per portal: 2 with Redis, else 1 (with ``SIPADU_THREADS``
    threads). Any number counts exactly on one host: the limits' counters are shared by
    every worker of the host (:mod:`sipadu.persistence.counters`)."""
    return _int(env, "SIPADU_WORKERS", 2 if env.get("SIPADU_REDIS_URL") else 1)


def _faults(env: Mapping[str, str], environment: Environment) -> frozenset[str]:
    from sipadu.settings.faults import POINTS

    names = frozenset(n.strip() for n in env.get("SIPADU_FAULTS", "").split(",") if n.strip())
    if names and environment is Environment.PRODUCTION:
        raise ConfigError("SIPADU_FAULTS (fault injection for tests) is refused in production")
    unknown = names - POINTS
    if unknown:
        raise ConfigError(f"SIPADU_FAULTS: unknown point(s) {', '.join(sorted(unknown))}")
    return names


def _web_address(env: Mapping[str, str]) -> str | None:
    """``SIPADU_WEB_ADDRESS``: the reporter portal's address on the ordinary web, as
    printed on an intake slip (``https://…``; ``http://`` only for a development host)."""
    raw = env.get("SIPADU_WEB_ADDRESS", "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", raw) or len(raw) > 200:
        raise ConfigError(
            f"SIPADU_WEB_ADDRESS={raw!r} is not a web address like https://lapor.example.go.id"
        )
    return raw


def _offices(env: Mapping[str, str]) -> tuple[str, ...]:
    """``SIPADU_INTAKE_OFFICES``: office names separated by ``;`` (a name may hold a
    comma), each at most :data:`OFFICE_BYTES` bytes of UTF-8 without quotes, backslashes
    or control characters, no two alike."""
    raw = env.get("SIPADU_INTAKE_OFFICES", "")
    names = tuple(" ".join(n.split()) for n in raw.split(";") if n.strip())
    if not names:
        return INTAKE_OFFICES
    if any(len(n.encode()) > OFFICE_BYTES for n in names):
        raise ConfigError(f"SIPADU_INTAKE_OFFICES: a name is over {OFFICE_BYTES} bytes")
    if any(not n.isprintable() or '"' in n or "\\" in n for n in names):
        raise ConfigError("SIPADU_INTAKE_OFFICES: no quotes, backslashes or control characters")
    if len(set(names)) != len(names):
        raise ConfigError("SIPADU_INTAKE_OFFICES names an office twice")
    return names


def is_onion_v3(address: str) -> bool:
    """Whether ``address`` (lower case, with ``.onion``) is a v3 onion address as Tor's
    rend-spec-v3 ("Encoding onion addresses") defines it: base32 of
    ``PUBKEY (32 bytes) || CHECKSUM (2) || VERSION (1, = 3)``, where CHECKSUM is the
    first two bytes of SHA3-256(".onion checksum" || PUBKEY || VERSION). A mistyped
    address fails its checksum (issue 15): it would send Tor Browser users nowhere."""
    import base64
    import hashlib
    import re

    if not re.fullmatch(r"[a-z2-7]{56}\.onion", address):
        return False
    decoded = base64.b32decode(address.removesuffix(".onion").upper())
    pubkey, checksum, version = decoded[:32], decoded[32:34], decoded[34:]
    if version != b"\x03":
        return False
    expected = hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2]
    return checksum == expected


def _onion(env: Mapping[str, str]) -> str | None:
    raw = (env.get("SIPADU_ONION_ADDRESS") or "").strip().lower()
    if not raw:
        return None
    if not is_onion_v3(raw):
        raise ConfigError(
            "SIPADU_ONION_ADDRESS must be a v3 onion address (56 characters + .onion, "
            "version 3, its checksum right): copy it from the onion service's hostname file"
        )
    return raw


MAX_INSTITUTION_TEXT = 300  # characters of one institution setting: a line, not a page


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    raw = " ".join((env.get(name) or "").split())
    if len(raw) > MAX_INSTITUTION_TEXT:
        raise ConfigError(f"{name} is longer than {MAX_INSTITUTION_TEXT} characters")
    return raw or default


def _bilingual(env: Mapping[str, str], name: str, default: Bilingual) -> Bilingual:
    """``NAME_ID`` and ``NAME_EN``; without ``NAME_EN`` the English page shows ``NAME_ID``
    (an operator's own words, never the example's English beside their Indonesian)."""
    indonesian = _text(env, f"{name}_ID", "")
    english = _text(env, f"{name}_EN", "")
    if not indonesian and not english:
        return default
    return Bilingual(indonesian or english, english or indonesian)


def _institution(env: Mapping[str, str]) -> Institution:
    default = Institution()
    return Institution(
        name=_text(env, "SIPADU_INSTITUTION_NAME", default.name),
        description=_bilingual(env, "SIPADU_INSTITUTION_DESCRIPTION", default.description),
        address=_text(env, "SIPADU_INSTITUTION_ADDRESS", default.address),
        hours=_bilingual(env, "SIPADU_INSTITUTION_HOURS", default.hours),
        phone=_text(env, "SIPADU_INSTITUTION_PHONE", default.phone),
        legal_basis=_bilingual(env, "SIPADU_INSTITUTION_LEGAL_BASIS", default.legal_basis),
    )


_MAILBOX = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}")


def is_mail_address(value: str) -> bool:
    """Whether ``value`` is a plain ASCII ``local@domain`` address (RFC 5321 §4.1.2's
    Dot-string local part, a dotted domain of letters, digits and hyphens; at most 254
    characters, RFC 5321 §4.5.3.1.3 with its errata). Quoted local parts, address
    literals and non-ASCII addresses (RFC 6531) are not taken: nothing that needs
    quoting can reach a header."""
    if len(value) > 254 or not _MAILBOX.fullmatch(value):
        return False
    local, domain = value.split("@")
    labels = domain.split(".")
    return (
        not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and len(labels) >= 2
        and all(0 < len(x) <= 63 and not x.startswith("-") and not x.endswith("-") for x in labels)
    )


def domain_allowed(address: str, domains: tuple[str, ...]) -> bool:
    """Whether ``address``'s domain is one of ``domains`` exactly (lower-case; a
    subdomain must be listed itself), or ``domains`` is empty (any domain)."""
    return not domains or address.rpartition("@")[2].lower() in domains


def _notify_domains(env: Mapping[str, str]) -> tuple[str, ...]:
    """``SIPADU_NOTIFY_DOMAINS``: the mail domains digest addresses must be at, separated
    by ";" (e.g. ``jakarta.go.id;inspektorat.jakarta.go.id``); empty: any domain."""
    raw = env.get("SIPADU_NOTIFY_DOMAINS") or ""
    domains = tuple(dict.fromkeys(d.strip().lower() for d in raw.split(";") if d.strip()))
    for domain in domains:
        if not is_mail_address(f"x@{domain}"):
            raise ConfigError(
                f"SIPADU_NOTIFY_DOMAINS: {domain[:80]!r} is not a mail domain like "
                "inspektorat.jakarta.go.id (separate several with ;)"
            )
    return domains


def _mail(env: Mapping[str, str]) -> MailSettings | None:
    """``SIPADU_SMTP_URL`` (``smtp://host[:port]`` STARTTLS, ``smtps://host[:port]`` TLS,
    ``smtp+plain://localhost[:port]`` a relay on this host) and the settings beside it;
    None when it is not set. No login in the URL: it comes from its own variables."""
    from urllib.parse import urlsplit

    raw = (env.get("SIPADU_SMTP_URL") or "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ConfigError("SIPADU_SMTP_URL is not a URL like smtp://mail.example.go.id") from None
    try:
        security = MailSecurity(parts.scheme)
    except ValueError:
        raise ConfigError(
            "SIPADU_SMTP_URL must start with smtp:// (STARTTLS), smtps:// (TLS) or "
            "smtp+plain:// (a relay on this host)"
        ) from None
    if parts.username or parts.password:
        raise ConfigError(
            "SIPADU_SMTP_URL holds a login: give it as SIPADU_SMTP_USERNAME and "
            "SIPADU_SMTP_PASSWORD instead"
        )
    host = parts.hostname or ""
    if not host or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError("SIPADU_SMTP_URL is not a URL like smtp://mail.example.go.id")
    if security is MailSecurity.PLAIN and host not in LOOPBACK_HOSTS:
        raise ConfigError("SIPADU_SMTP_URL: smtp+plain:// (no TLS) is taken for this host only")
    sender = (env.get("SIPADU_SMTP_FROM") or "").strip()
    if not is_mail_address(sender):
        raise ConfigError("SIPADU_SMTP_FROM must be an address like sipadu@example.go.id")
    username = env.get("SIPADU_SMTP_USERNAME") or None
    password = env.get("SIPADU_SMTP_PASSWORD") or None
    if (username is None) != (password is None):
        raise ConfigError("SIPADU_SMTP_USERNAME and SIPADU_SMTP_PASSWORD go together")
    ca_raw = (env.get("SIPADU_SMTP_CA_FILE") or "").strip()
    ca_file = Path(ca_raw) if ca_raw else None
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError("SIPADU_SMTP_CA_FILE does not name a readable file")
    return MailSettings(
        security=security,
        host=host,
        port=port or MAIL_PORTS[security],
        sender=sender,
        username=username,
        password=password,
        ca_file=ca_file,
        timeout_seconds=_int(env, "SIPADU_SMTP_TIMEOUT_SECONDS", 30),
    )


def _time_zone(env: Mapping[str, str]) -> str:
    """``SIPADU_TIME_ZONE``: an IANA time zone name (Asia/Jakarta for WIB, Asia/Makassar
    for WITA, Asia/Jayapura for WIT)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = (env.get("SIPADU_TIME_ZONE") or "Asia/Jakarta").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"SIPADU_TIME_ZONE={name!r} is not a time zone like Asia/Jakarta"
        ) from None
    return name


def load_config(env: Mapping[str, str]) -> Config:
    """Build and validate a :class:`Config` from ``SIPADU_*`` variables."""
    environment = _choice(env, "SIPADU_ENV", Environment, Environment.PRODUCTION)
    threads = _int(env, "SIPADU_THREADS", 8)
    workers = _workers(env)
    upload_slots = _int(env, "SIPADU_UPLOAD_SLOTS", max(1, threads // 2))
    max_request_mib = _int(env, "SIPADU_MAX_REQUEST_MIB", 500)
    document_cpu_seconds = _int(env, "SIPADU_DOCUMENT_CLEANER_CPU_SECONDS", 60)
    instance_path = Path(env.get("SIPADU_INSTANCE_PATH") or "instance").resolve()
    database_url = env.get("SIPADU_DATABASE_URL") or f"sqlite:///{instance_path / 'sipadu.db'}"
    config = Config(
        env=environment,
        instance_path=instance_path,
        database_url=database_url,
        redis_url=env.get("SIPADU_REDIS_URL") or None,
        argon2=_argon2(env, "SIPADU_ARGON2"),
        lookup_argon2=_argon2(env, "SIPADU_LOOKUP_ARGON2"),
        max_request_bytes=max_request_mib * MIB,
        max_file_bytes=_int(env, "SIPADU_MAX_FILE_MIB", 500) * MIB,
        max_files=_int(env, "SIPADU_MAX_FILES", 20),
        image_cleaners=_int(env, "SIPADU_IMAGE_CLEANERS", 2),
        image_pixels_per_request=_int(env, "SIPADU_IMAGE_MEGAPIXELS_PER_REQUEST", 150) * 1_000_000,
        image_cleaner_memory_bytes=_int(env, "SIPADU_IMAGE_CLEANER_MEMORY_MIB", 1024, minimum=256)
        * MIB,
        image_cleaner_cpu_seconds=_int(env, "SIPADU_IMAGE_CLEANER_CPU_SECONDS", 20),
        document_cleaner_memory_bytes=_int(
            env, "SIPADU_DOCUMENT_CLEANER_MEMORY_MIB", 1024, minimum=384
        )
        * MIB,
        document_cleaner_cpu_seconds=document_cpu_seconds,
        document_seconds_per_request=_int(
            env, "SIPADU_DOCUMENT_SECONDS_PER_REQUEST", 3 * document_cpu_seconds
        ),
        safe_copy_converters=_int(env, "SIPADU_SAFE_COPY_CONVERTERS", 1),
        safe_copy_max_pages=_int(env, "SIPADU_SAFE_COPY_MAX_PAGES", 500),
        safe_copy_dpi=_int(env, "SIPADU_SAFE_COPY_DPI", 150, minimum=72),
        safe_copy_page_pixels=_int(env, "SIPADU_SAFE_COPY_PAGE_MEGAPIXELS", 16) * 1_000_000,
        safe_copy_total_pixels=_int(env, "SIPADU_SAFE_COPY_TOTAL_MEGAPIXELS", 1500) * 1_000_000,
        safe_copy_max_bytes=_int(env, "SIPADU_SAFE_COPY_MAX_MIB", 200) * MIB,
        safe_copy_memory_bytes=_int(env, "SIPADU_SAFE_COPY_MEMORY_MIB", 1024, minimum=256) * MIB,
        safe_copy_office_memory_bytes=_int(
            env, "SIPADU_SAFE_COPY_OFFICE_MEMORY_MIB", 2048, minimum=768
        )
        * MIB,
        safe_copy_cpu_seconds=_int(env, "SIPADU_SAFE_COPY_CPU_SECONDS", 60),
        date_precision=_choice(env, "SIPADU_DATE_PRECISION", DatePrecision, DatePrecision.DAY),
        ack_days=_int(env, "SIPADU_ACK_DAYS", 7),
        feedback_days=_int(env, "SIPADU_FEEDBACK_DAYS", 90),
        day_count=_choice(env, "SIPADU_DAY_COUNT", DayCount, DayCount.CALENDAR),
        referral_follow_up_days=_int(env, "SIPADU_REFERRAL_FOLLOW_UP_DAYS", 30),
        reporter_bind=env.get("SIPADU_REPORTER_BIND") or "127.0.0.1:5000",
        staff_bind=env.get("SIPADU_STAFF_BIND") or "127.0.0.1:5001",
        workers=workers,
        threads=threads,
        heartbeat_seconds=_int(env, "SIPADU_HEARTBEAT_SECONDS", 120),
        head_timeout_seconds=_int(env, "SIPADU_HEAD_TIMEOUT_SECONDS", 10),
        body_timeout_seconds=_int(env, "SIPADU_BODY_TIMEOUT_SECONDS", 20),
        body_min_rate=_int(env, "SIPADU_BODY_MIN_KIB_PER_SECOND", 1) * 1024,
        small_body_bytes=_int(env, "SIPADU_SMALL_BODY_KIB", 64) * 1024,
        upload_slots=upload_slots,
        kept_files_bytes=_int(
            env, "SIPADU_KEPT_FILES_MIB", upload_slots * workers * max_request_mib, minimum=0
        )
        * MIB,
        upload_queue=_int(env, "SIPADU_UPLOAD_QUEUE", 16, minimum=0),
        upload_wait_seconds=_int(env, "SIPADU_UPLOAD_WAIT_SECONDS", 30),
        contended_rate=_int(env, "SIPADU_CONTENDED_KIB_PER_SECOND", 32) * 1024,
        send_timeout_seconds=_int(env, "SIPADU_SEND_TIMEOUT_SECONDS", 60),
        download_slots=_int(env, "SIPADU_DOWNLOAD_SLOTS", max(1, threads // 2)),
        max_connections=_int(env, "SIPADU_MAX_CONNECTIONS", 1000),
        recovery_public_key=env.get("SIPADU_RECOVERY_PUBLIC_KEY") or None,
        audit_public_key=_public_hex(env, "SIPADU_AUDIT_PUBLIC_KEY"),
        mailbox_idle_seconds=_int(env, "SIPADU_MAILBOX_IDLE_MINUTES", 15) * 60,
        mailbox_failures_per_code=_limit(env, "SIPADU_MAILBOX_FAILURES_PER_CODE", "10 per hour"),
        staff_idle_seconds=_int(env, "SIPADU_STAFF_IDLE_MINUTES", 30) * 60,
        staff_absolute_seconds=_int(env, "SIPADU_STAFF_ABSOLUTE_HOURS", 10) * 3600,
        staff_failures_per_account=_limit(env, "SIPADU_STAFF_FAILURES_PER_ACCOUNT", "10 per hour"),
        password_extra_words=tuple(
            " ".join(p.split())
            for p in env.get("SIPADU_PASSWORD_EXTRA_WORDS", "").split(",")
            if p.strip()
        ),
        kdf_slots=_int(env, "SIPADU_KDF_SLOTS", 2, minimum=2),
        kdf_queue=_int(env, "SIPADU_KDF_QUEUE", 4, minimum=0),
        kdf_wait_ms=_int(env, "SIPADU_KDF_WAIT_MS", 2000, minimum=0),
        kdf_nice=_int(env, "SIPADU_KDF_NICE", 10, minimum=0),
        reports_per_hour=_int(env, "SIPADU_REPORTS_PER_HOUR", 60),
        enrollment_link_hours=_int(env, "SIPADU_ENROLLMENT_LINK_HOURS", 72),
        retention_closed_days=_int(env, "SIPADU_RETENTION_CLOSED_DAYS", 5 * 365 + 1),
        retention_rejected_days=_int(env, "SIPADU_RETENTION_REJECTED_DAYS", 365),
        transparency_threshold=_int(env, "SIPADU_TRANSPARENCY_THRESHOLD", 5, minimum=2),
        faults=_faults(env, environment),
        onion_address=_onion(env),
        web_address=_web_address(env),
        intake_offices=_offices(env),
        institution=_institution(env),
        mail=_mail(env),
        time_zone=_time_zone(env),
        digest_hour=_int(env, "SIPADU_DIGEST_HOUR", 7, minimum=0),
        notify_domains=_notify_domains(env),
        volatile_path=Path(env["SIPADU_VOLATILE_PATH"])
        if env.get("SIPADU_VOLATILE_PATH")
        else None,
        secrets=SecretOverrides(
            reporter_session_key=_secret(env, "SIPADU_REPORTER_SESSION_KEY", 32),
            staff_session_key=_secret(env, "SIPADU_STAFF_SESSION_KEY", 32),
            lookup_salt=_secret(env, "SIPADU_LOOKUP_SALT", 16),
            audit_signing_key=_secret(env, "SIPADU_AUDIT_SIGNING_KEY", 32),
        ),
    )
    if config.digest_hour > 23:
        raise ConfigError("SIPADU_DIGEST_HOUR must be an hour from 0 to 23")
    if config.kdf_nice > 19:
        raise ConfigError("SIPADU_KDF_NICE must be between 0 and 19")
    if config.max_file_bytes > config.max_request_bytes:
        raise ConfigError("SIPADU_MAX_FILE_MIB cannot exceed SIPADU_MAX_REQUEST_MIB")
    if config.feedback_days < config.ack_days:
        raise ConfigError("SIPADU_FEEDBACK_DAYS cannot be shorter than SIPADU_ACK_DAYS")
    if config.production and config.argon2.is_weaker_than(Argon2Params()):
        raise ConfigError("production refuses Argon2 parameters below t=3, m=64 MiB, p=4")
    if config.production and config.lookup_argon2.is_weaker_than(Argon2Params()):
        raise ConfigError("production refuses lookup Argon2 parameters below t=3, m=64 MiB, p=4")
    return config


def from_environ() -> Config:
    """The process environment's config: the one place SIPADU reads ``os.environ``."""
    return load_config(os.environ)
