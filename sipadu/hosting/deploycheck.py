"""``sipadu check``: the deployment checklist of docs/deploy.md, checked on this host.

Each check says OK, WARN or FAIL and why. FAIL means a guarantee is at risk here (a
secret others can read, a demo recovery key, a Redis that writes sessions to disk); WARN
means something to confirm by hand (swap that may be unencrypted, a clock that may not
be synchronised). The command exits 1 if anything fails.
"""

import shutil
import smtplib
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sipadu.accountability import recovery
from sipadu.settings.config import Config, ConfigError
from sipadu.settings.instance import SPECS, secrets_dir


@dataclass(frozen=True)
class Finding:
    check: str
    level: str  # OK | WARN | FAIL
    detail: str

    def line(self) -> str:
        return f"{self.level:4} {self.check}: {self.detail}"


def _secrets(config: Config) -> Finding:
    folder = secrets_dir(config)
    loose = []
    for name in SPECS:
        if getattr(config.secrets, name) is not None:
            continue
        path = folder / name
        if path.exists() and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            loose.append(name)
    if folder.exists() and folder.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        loose.append(str(folder))
    if loose:
        return Finding("secrets", "FAIL", "readable by other users: " + ", ".join(loose))
    return Finding("secrets", "OK", "private to this OS user (or given through config)")


def _recovery(config: Config) -> Finding:
    if (config.instance_path / recovery.DEMO_PRIVATE_FILE).exists():
        level = "FAIL" if config.production else "WARN"
        return Finding("recovery key", level, "a demo private key is on this server")
    try:
        key = recovery.public_key(config)
    except ConfigError as exc:
        return Finding("recovery key", "FAIL", str(exc))
    from sipadu.crypto import fingerprint

    return Finding("recovery key", "OK", f"public key {fingerprint(key)}")


def _redis(config: Config) -> Finding:
    """Limits hold as documented only where every process that serves a portal counts
    in one place: Redis, or without it the memory file system of one host
    (:mod:`sipadu.persistence.counters`), shared by its workers. PostgreSQL means several hosts are
    possible, and each would count on its own: FAIL without Redis. A configured Redis that does not
    answer is a FAIL too (every sign-in would fail)."""
    if not config.redis_url:
        if not config.database_url.startswith("sqlite"):
            return Finding(
                "redis",
                "FAIL",
                "not configured on a PostgreSQL deployment: each host would count failed "
                "logins on its own, so the limits would be multiplied by the number of "
                "hosts; set SIPADU_REDIS_URL",
            )
        return Finding(
            "redis", "OK", "not used: sessions and the limits' counters on this host's tmpfs"
        )
    import redis

    client = redis.Redis.from_url(config.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        return Finding("redis", "FAIL", f"configured but unreachable ({type(exc).__name__})")
    try:
        # redis-py types a reply for its sync and async clients at once (``Awaitable |
        # Any``); this client is the sync one, and CONFIG GET answers a dict of strings.
        save = cast(dict[str, str], client.config_get("save")).get("save", "")
        aof = cast(dict[str, str], client.config_get("appendonly")).get("appendonly", "no")
    except redis.RedisError as exc:
        return Finding("redis", "WARN", f"cannot read its persistence settings ({exc})")
    if save or aof == "yes":
        return Finding(
            "redis",
            "FAIL",
            f"persistence is on (save={save!r}, appendonly={aof}): mailbox sessions and "
            'limits would be written to disk; set `save ""` and `appendonly no`',
        )
    return Finding("redis", "OK", "persistence off")


def _swap() -> Finding:
    try:
        lines = Path("/proc/swaps").read_text().splitlines()[1:]
    except OSError:
        return Finding("swap", "WARN", "cannot read /proc/swaps")
    devices = [line.split()[0] for line in lines if line.strip()]
    if not devices:
        return Finding("swap", "OK", "no swap")
    plain = [d for d in devices if not d.startswith(("/dev/dm-", "/dev/mapper/", "/dev/zram"))]
    if plain:
        return Finding(
            "swap", "WARN", f"swap on {', '.join(plain)}: make sure it is encrypted, or turn it off"
        )
    return Finding("swap", "OK", "swap is on encrypted or compressed-memory devices")


def _clock() -> Finding:
    tool = shutil.which("timedatectl")
    if tool is None:
        return Finding("clock", "WARN", "timedatectl not found: check NTP by hand (TOTP needs it)")
    result = subprocess.run(  # noqa: S603 — fixed argv
        [tool, "show", "-p", "NTPSynchronized", "--value"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.stdout.strip() == "yes":
        return Finding("clock", "OK", "synchronised (NTP)")
    return Finding("clock", "WARN", "not known to be synchronised: TOTP codes may be refused")


def _core_dumps() -> Finding:
    import resource

    from sipadu.web.security import harden_process

    harden_process()
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if soft == hard == 0:
        return Finding("core dumps", "OK", "disabled by every SIPADU process at start")
    return Finding("core dumps", "FAIL", f"limit is {soft}/{hard}")


def _mode(config: Config) -> Finding:
    if config.production:
        return Finding("mode", "OK", "production")
    return Finding("mode", "WARN", "development: plain-HTTP cookies, demo accounts allowed")


def _database(config: Config) -> Finding:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from sipadu.persistence.db import make_engine
    from sipadu.persistence.migrate import alembic_config

    engine = make_engine(config.database_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as exc:  # noqa: BLE001 — any failure to connect is the finding
        return Finding("database", "FAIL", f"cannot connect: {type(exc).__name__}")
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(config.database_url)).get_current_head()
    if current != head:
        return Finding("database", "FAIL", f"at {current}, code expects {head}: sipadu db upgrade")
    return Finding("database", "OK", f"{engine.dialect.name}, schema at {head}")


def _reserved_names(config: Config) -> Finding:
    """An account named like the audit log's own actors (``operator``: the shell;
    ``system``, ``unknown``) reads as they do in the auditor's view. New accounts cannot
    take those names; one made before that rule is found here."""
    from sqlalchemy import select

    from sipadu.accountability.audit import ACTORS
    from sipadu.persistence.db import make_engine
    from sipadu.persistence.models import StaffAccount

    engine = make_engine(config.database_url)
    try:
        with engine.connect() as connection:
            taken = sorted(
                connection.scalars(
                    select(StaffAccount.username).where(StaffAccount.username.in_(ACTORS))
                )
            )
    except Exception as exc:  # noqa: BLE001 — reported by the database check already
        return Finding("account names", "WARN", f"not checked: {type(exc).__name__}")
    finally:
        engine.dispose()
    if taken:
        names = ", ".join(taken)
        detail = f"{names}: named like the audit log's own actors; rename (docs/staff.md)"
        return Finding("account names", "FAIL", detail)
    return Finding("account names", "OK", "none named like the audit log's own actors")


def _institution(config: Config) -> Finding:
    """Reporters are told whom they report to (docs/reporter.md, "Who runs this portal"):
    the shipped examples on a production portal would name the wrong office."""
    examples = config.institution.example_settings()
    if not examples:
        return Finding("institution", "OK", config.institution.name)
    detail = "still the example values: set " + ", ".join(examples) + " (README, Configuration)"
    return Finding("institution", "WARN" if config.production else "OK", detail)


def _intake_offices(config: Config) -> Finding:
    """An office the audit log would refuse makes every intake there fail (and the staff
    portal refuses to start): docs/intake.md, "Configuration"."""
    from sipadu.services.operator_intake import check_offices

    try:
        check_offices(config.intake_offices)
    except ConfigError as exc:
        return Finding("intake offices", "FAIL", str(exc))
    return Finding("intake offices", "OK", f"{len(config.intake_offices)} offices")


def _portal_address(config: Config) -> Finding:
    """An intake slip tells the reporter where to follow the report: with neither
    SIPADU_WEB_ADDRESS nor SIPADU_ONION_ADDRESS the operator's form refuses every report
    (docs/intake.md, "Configuration")."""
    given = [a for a in (config.web_address, config.onion_address) if a]
    if given:
        return Finding("portal address", "OK", "printed on intake slips: " + ", ".join(given))
    detail = (
        "neither SIPADU_WEB_ADDRESS nor SIPADU_ONION_ADDRESS is set: "
        "the operators' intake refuses every report (docs/intake.md)"
    )
    return Finding("portal address", "FAIL" if config.production else "WARN", detail)


def _mail(config: Config) -> Finding:
    """The digest's SMTP server (issue 19): connected, protected and logged in to, as
    ``sipadu notify`` will (nothing is sent). Not configured is fine: the digest is on
    each person's home page then."""
    settings = config.mail
    if settings is None:
        return Finding("e-mail digest", "OK", "no SIPADU_SMTP_URL: digests on the staff home page")
    from sipadu.hosting import mail

    where = f"{settings.security.value}://{settings.host}:{settings.port}"
    try:
        mail.check(settings)
    except (OSError, mail.MailRefused, smtplib.SMTPException) as exc:
        # The class name only: a server's reply may quote a login or an address.
        return Finding("e-mail digest", "FAIL", f"{where}: {type(exc).__name__}")
    login = ", login accepted" if settings.username else ""
    return Finding(
        "e-mail digest",
        "OK",
        f"{where} answers{login}; sent at {config.digest_hour:02d}:00 {config.time_zone}",
    )


def _notify_domains(config: Config) -> Finding:
    """``SIPADU_NOTIFY_DOMAINS`` (issue 19): the digest addresses already registered that
    are at none of the institution's domains (registered before it was set), counted,
    never named. The run sends them nothing; their owners must change them."""
    domains = config.notify_domains
    if not domains:
        return Finding("digest domains", "OK", "SIPADU_NOTIFY_DOMAINS not set: any domain taken")
    from sqlalchemy import select

    from sipadu.crypto import CryptoError
    from sipadu.persistence.db import make_engine, make_sessionmaker
    from sipadu.persistence.models import StaffNotification
    from sipadu.services.notifications import open_address, sealing_key
    from sipadu.settings.config import domain_allowed
    from sipadu.settings.instance import load_secret

    engine = make_engine(config.database_url)
    outside = unreadable = 0
    try:
        key = sealing_key(load_secret(config, "staff_session_key"))
        with make_sessionmaker(engine)() as session:
            for row in session.scalars(select(StaffNotification)):
                try:
                    outside += not domain_allowed(open_address(key, row), domains)
                except CryptoError:
                    unreadable += 1
    except Exception as exc:  # noqa: BLE001 — reported by the database check already
        return Finding("digest domains", "WARN", f"not checked: {type(exc).__name__}")
    finally:
        engine.dispose()
    listed = ", ".join(domains)
    if outside:
        return Finding(
            "digest domains",
            "FAIL",
            f"{outside} registered address(es) outside {listed}: nothing is mailed to them "
            "until their owners change them on their account page",
        )
    unread = f" ({unreadable} no longer readable)" if unreadable else ""
    return Finding("digest domains", "OK", f"every registered address is at {listed}{unread}")


def run_checks(config: Config) -> list[Finding]:
    return [
        _mode(config),
        _institution(config),
        _intake_offices(config),
        _portal_address(config),
        _database(config),
        _reserved_names(config),
        _secrets(config),
        _recovery(config),
        _redis(config),
        _mail(config),
        _notify_domains(config),
        _swap(),
        _core_dumps(),
        _clock(),
    ]


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.level == "FAIL" for f in findings) else 0
