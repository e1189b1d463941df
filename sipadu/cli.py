"""The ``sipadu`` command: operator tasks on the server (a click group, as Flask's CLI).

Commands work on config and the database directly, without building a web app, so
``init`` runs before any secret exists. That is why this is a plain click group and not
Flask's ``AppGroup``, which would wrap every command in an app context. Output never
includes report data; the only secrets printed are the ones the operator must hand over
(demo credentials and a demo account's current TOTP code, a new account's TOTP secret).
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pyotp
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from sipadu import __version__
from sipadu.accountability import audit, recovery
from sipadu.accountability.audit import OPERATOR
from sipadu.crypto import Argon2Params, CryptoError, PrivateKey, age_private_key
from sipadu.evidence import storage
from sipadu.evidence.confinement import sweep_scratch
from sipadu.hosting import mail
from sipadu.hosting.deploycheck import exit_code, run_checks
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.dbroles import apply_reporter_role
from sipadu.persistence.migrate import upgrade
from sipadu.persistence.models import Category, CategorySlug, Role, StaffAccount
from sipadu.persistence.row_order import Reshuffled
from sipadu.services import ServiceError, receipts, retention, transparency
from sipadu.services.audit_log import record_export
from sipadu.services.categories import add_route, category_by_slug, remove_route, seed_instance
from sipadu.services.confirmation import send_confirmations
from sipadu.services.conflict_of_interest import external_export
from sipadu.services.grants import recovery_grant
from sipadu.services.notifications import DigestSettings, sealing_key, send_digests
from sipadu.services.passphrases import configure_instance_words
from sipadu.services.retention import RetentionPolicy
from sipadu.services.staff import (
    create_account,
    find_by_username,
    resend_link,
    reset_totp,
    set_may_grant,
)
from sipadu.services.staff_auth import Timeouts, purge_expired
from sipadu.settings.config import Config, ConfigError, from_environ
from sipadu.settings.instance import audit_public_key as instance_audit_public_key
from sipadu.settings.instance import ensure_instance, generate_missing, load_secret
from sipadu.web.refusal_messages import message
from sipadu.web.security import harden_process
from sipadu.web.words import CATEGORY_LABELS, in_both_languages

DEMO_ACCOUNTS = [
    (Role.ADMIN, "admin"),
    (Role.ADMIN, "admin2"),  # a second admin: security-relevant changes need two
    (Role.INVESTIGATOR, "pemeriksa1"),
    (Role.INVESTIGATOR, "pemeriksa2"),
    (Role.CUSTODIAN, "inspektur"),
    (Role.AUDITOR, "auditor"),
    (Role.OPERATOR, "petugas1"),  # an intake operator at a counter (issue 18)
]


def _config() -> Config:
    try:
        config = from_environ()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_instance_words(config.instance_words)
    return config


@contextmanager
def _session(config: Config) -> Iterator[Session]:
    engine = make_engine(config.database_url)
    session = make_sessionmaker(engine, write=True)()
    try:
        yield session
        session.commit()
    except ServiceError as exc:
        session.rollback()
        raise click.ClickException(message(exc)) from None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        engine.dispose()


@contextmanager
def _reader(config: Config) -> Iterator[Session]:
    """A reading session, for what a command shows after :func:`_session` committed the
    record of it (as :func:`sipadu.web.context.stream` reads after the view's commit)."""
    engine = make_engine(config.database_url)
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


@click.group()
@click.version_option(__version__, prog_name="sipadu")
def main() -> None:
    """SIPADU: whistleblowing system administration."""
    harden_process()


@main.command()
@click.option("--demo", is_flag=True, help="Also create demo staff accounts (development only).")
def init(demo: bool) -> None:
    """Create the instance folder, secrets and database; seed the categories."""
    config = _config()
    if demo and config.production:
        raise click.ClickException("--demo is refused in production (SIPADU_ENV=development)")
    ensure_instance(config)
    for name in generate_missing(config):
        click.echo(f"created secret: {name}", err=True)
    upgrade(config.database_url)
    with _session(config) as session:
        for slug in seed_instance(session, OPERATOR, __version__, demo):
            click.echo(f"created category: {slug}", err=True)
        if demo:
            lines = _create_demo_accounts(session, config)
    if demo:
        demo_key = recovery.make_demo_key(config)
        if demo_key is not None:
            click.echo(
                f"demo recovery key: {demo_key.private} (passphrase "
                f"{recovery.DEMO_PASSPHRASE!r}): NOT for production, which refuses it",
                err=True,
            )
        path = config.instance_path / "demo-credentials.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        click.echo("\n".join(lines))
        click.echo(f"(demo accounts: not for real reports; also saved in {path})", err=True)


def _create_demo_accounts(session: Session, config: Config) -> list[str]:
    lines = []
    investigators = []
    for role, username in DEMO_ACCOUNTS:
        if find_by_username(session, username) is not None:
            raise click.ClickException(f"demo account {username!r} exists already")
        password = secrets.token_urlsafe(12)
        new = create_account(
            session,
            username,
            {role},
            password=password,
            argon2=config.argon2,
            actor=OPERATOR,
            now=datetime.now(UTC),
        )
        if role is Role.INVESTIGATOR:
            investigators.append(new.account)
            if not investigators[1:]:  # the first demo investigator may share reports
                set_may_grant(session, new.account, True, OPERATOR)
        lines.append(f"demo {role.value} {username} {password} {new.totp_secret}")
    session.flush()
    for slug in CategorySlug:
        category = category_by_slug(session, slug.value)
        for account in investigators:
            add_route(session, category, account, OPERATOR)
    return lines


DEMO_CREDENTIALS = "demo-credentials.txt"
_DEMO_LINE = re.compile(r"^demo (\S+) (\S+) (\S+) ([A-Z2-7]+)$")


@main.group()
def demo() -> None:
    """Demo accounts of a development instance (`sipadu init --demo`)."""


@demo.command("totp")
@click.argument("username")
def demo_totp(username: str) -> None:
    """Print demo account USERNAME's current TOTP code and the seconds it stays valid.

    Reads the secret from the instance's demo-credentials.txt, which `sipadu init --demo`
    wrote (the database keeps it sealed under the account's password). Development only:
    a production instance has no demo accounts and this command refuses to run there.
    """
    config = _config()
    if config.production:
        raise click.ClickException(
            "sipadu demo totp is for development instances only: run it with "
            "SIPADU_ENV=development and SIPADU_INSTANCE_PATH set, as `make totp USER=admin` does"
        )
    path = config.instance_path / DEMO_CREDENTIALS
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise click.ClickException(
            f"no demo accounts in {config.instance_path}: `make run` (or `sipadu init --demo`) "
            "creates them"
        ) from None
    secrets_by_name = {
        match.group(2): match.group(4)
        for match in map(_DEMO_LINE.match, text.splitlines())
        if match is not None
    }
    secret = secrets_by_name.get(username.strip().lower())
    if secret is None:
        known = ", ".join(secrets_by_name) or "none"
        raise click.ClickException(f"no demo account {username!r} (demo accounts: {known})")
    totp = pyotp.TOTP(secret)
    now = time.time()
    left = totp.interval - int(now) % totp.interval
    click.echo(f"{totp.at(now)}  ({left} s left of {totp.interval}; a code signs in only once)")


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.option("--username", required=True)
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice([r.value for r in Role]),
    help="Repeat for several roles.",
)
@click.option("--display-name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_create(
    username: str, roles: tuple[str, ...], display_name: str | None, password_stdin: bool
) -> None:
    """Create a staff account; prints its TOTP secret once."""
    config = _config()
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    with _session(config) as session:
        new = create_account(
            session,
            username,
            {Role(r) for r in roles},
            display_name=display_name,
            password=password,
            argon2=config.argon2,
            actor=OPERATOR,
            now=datetime.now(UTC),
            link_ttl=timedelta(hours=config.enrollment_link_hours),
        )
    if new.totp_secret is not None:
        click.echo(f"totp_secret: {new.totp_secret}")
    else:
        click.echo(f"activation: /activate/{new.enrollment_token}")
        click.echo(
            "no password set: give the person this path on the staff portal (one use, "
            f"{config.enrollment_link_hours} hours); for a sensitive role two different "
            "admins then approve the account in the portal",
            err=True,
        )


@user.command("link")
@click.option("--username", required=True)
def user_link(username: str) -> None:
    """A new one-time link for an account: activation if it has no key yet, else TOTP
    enrollment (after a lost phone). Any earlier link stops working."""
    config = _config()
    moment = datetime.now(UTC)
    ttl = timedelta(hours=config.enrollment_link_hours)
    with _session(config) as session:
        account = find_by_username(session, username.strip().lower())
        if account is None:
            raise click.ClickException(f"no staff account {username!r}")
        if account.public_key is None:
            token = resend_link(session, account, OPERATOR, moment, ttl)
            path = f"/activate/{token}"
        else:
            token = reset_totp(session, account, OPERATOR, moment, ttl)
            path = f"/enroll/{token}"
    click.echo(path)


@main.group()
def route() -> None:
    """Which investigators new reports in a category are encrypted to."""


def _route_args(session: Session, category: str, username: str) -> tuple[Category, StaffAccount]:
    account = find_by_username(session, username.strip().lower())
    if account is None:
        raise click.ClickException(f"no staff account {username!r}")
    return category_by_slug(session, category), account


@route.command("add")
@click.argument("category")
@click.argument("username")
def route_add(category: str, username: str) -> None:
    """Route new reports in CATEGORY to investigator USERNAME."""
    with _session(_config()) as session:
        changed = add_route(session, *_route_args(session, category, username), OPERATOR)
    click.echo("routed" if changed else "already routed")


@route.command("remove")
@click.argument("category")
@click.argument("username")
def route_remove(category: str, username: str) -> None:
    """Stop routing new reports in CATEGORY to USERNAME (existing grants stay)."""
    with _session(_config()) as session:
        changed = remove_route(session, *_route_args(session, category, username), OPERATOR)
    click.echo("removed" if changed else "was not routed")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (safe to run repeatedly)."""
    config = _config()
    upgrade(config.database_url)
    engine = make_engine(config.database_url)
    click.echo(f"database at head: {len(inspect(engine).get_table_names())} tables")
    engine.dispose()


@db.command("reshuffle")
def db_reshuffle() -> None:
    """Rewrite the reporter-side tables in key order now, so that the database file and a
    dump do not show in which order reporter and staff rows were written (docs/crypto.md,
    "Row order"). `sipadu purge` does it once a day; run it right before a backup."""
    engine = make_engine(_config().database_url)
    try:
        done = retention.reshuffle_if_due(
            make_sessionmaker(engine, write=True), datetime.now(UTC), force=True
        )
    finally:
        engine.dispose()
    assert done is not None  # forced
    click.echo(_reshuffled(done))


@db.command("reporter-role")
@click.argument("role")
def db_reporter_role(role: str) -> None:
    """PostgreSQL: create (if missing) the least-privileged ROLE for the reporter portal
    and grant it exactly what docs/deploy.md lists. Run as the database owner; then give
    the reporter portal a SIPADU_DATABASE_URL that logs in as ROLE."""
    config = _config()
    engine = make_engine(config.database_url)
    try:
        if engine.dialect.name != "postgresql":
            raise click.ClickException("database roles exist on PostgreSQL only")
        with engine.begin() as connection:
            apply_reporter_role(connection, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"role {role}: reporter portal privileges granted")


@main.command()
def check() -> None:
    """Check this host against the deployment checklist (docs/deploy.md): secrets,
    recovery key, Redis persistence, swap, core dumps, clock, database schema."""
    findings = run_checks(_config())
    for finding in findings:
        click.echo(finding.line())
    sys.exit(exit_code(findings))


@main.command()
def notify() -> None:
    """Mail a confirmation code to each new or changed digest address (at every run),
    and send each staff member's daily digest (counts only, never a report's content) to
    their confirmed address, once a day at or after SIPADU_DIGEST_HOUR in
    SIPADU_TIME_ZONE. For a timer that runs it every hour (docs/deploy.md, "E-mail
    digest"); running it again sends nothing twice. Exits 1 if a message could not be
    sent (a server's refusal is tried again next run)."""
    config = _config()
    if config.mail is None:
        click.echo("no SIPADU_SMTP_URL: nothing sent; digests are on the staff home page")
        return
    try:
        staff_session_key = load_secret(config, "staff_session_key")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    settings = DigestSettings(
        key=sealing_key(staff_session_key),
        sender=config.mail.sender,
        zone=ZoneInfo(config.time_zone),
        hour=config.digest_hour,
        domains=config.notify_domains,
    )
    engine = make_engine(config.database_url)
    send = partial(mail.send, config.mail)
    try:
        sessions = make_sessionmaker(engine, write=True)
        codes = send_confirmations(sessions, settings, datetime.now(UTC), send)
        run = send_digests(sessions, settings, datetime.now(UTC), send)
    finally:
        engine.dispose()
    click.echo(f"confirmation codes: {codes.sent} sent, {codes.failed} failed")
    if not run.due:
        click.echo(f"not due: digests go out from {config.digest_hour:02d}:00 {config.time_zone}")
    else:
        click.echo(
            f"digests: {run.sent} sent, {run.quiet} with nothing to tell, {run.failed} failed"
        )
    if run.failed or codes.failed:
        click.echo("(a server's refusal is tried again next run)")
        sys.exit(1)


@main.command()
def purge() -> None:
    """Delete abandoned uploads (staged files with no write for an hour; a slow upload
    still in progress is never touched), expired staff sessions, reports past their
    retention (keys first, then ciphertext; never one on legal hold), and the cleaning
    scratch folders a dead portal left in /dev/shm (the plaintext of a file being
    cleaned; run as the portals' user). For a timer."""
    config = _config()
    swept = sweep_scratch()
    timeouts = Timeouts(
        idle=timedelta(seconds=config.staff_idle_seconds),
        absolute=timedelta(seconds=config.staff_absolute_seconds),
    )
    with _session(config) as session:
        removed = storage.purge_stale(session)
        sessions = purge_expired(session, datetime.now(UTC), timeouts)
    engine = make_engine(config.database_url)
    try:
        shredded = retention.purge(
            make_sessionmaker(engine, write=True),
            RetentionPolicy(config.retention_closed_days, config.retention_rejected_days),
            datetime.now(UTC).date(),
        )
        storage.reclaim(engine)  # SQLite: the space of what was deleted goes back
        # Once a day: the order reporter rows were written in, erased (docs/crypto.md).
        reshuffled = retention.reshuffle_if_due(
            make_sessionmaker(engine, write=True), datetime.now(UTC)
        )
    finally:
        engine.dispose()
    click.echo(
        f"purged {removed} abandoned upload(s), {sessions} expired staff session(s), "
        f"{shredded.reports} expired report(s) ({shredded.keys} keys shredded first, "
        f"{shredded.files} file(s))"
        + (f"; {_reshuffled(reshuffled)}" if reshuffled else "")
        + (f"; {swept} left-over cleaning folder(s) removed" if swept else "")
    )


def _reshuffled(done: Reshuffled) -> str:
    line = f"row order rewritten: {done.tables} tables in {done.seconds:.1f} s"
    return line if done.wal_truncated else f"{line} (write-ahead log busy: truncated later)"


@main.group("recovery")
def recovery_group() -> None:
    """The offline recovery key."""


@recovery_group.command("keygen")
@click.option(
    "--out",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    help="Where to write recovery.pub and recovery-private.json.",
)
@click.option("--passphrase-stdin", is_flag=True, help="Read the passphrase from standard input.")
def recovery_keygen(directory: str, passphrase_stdin: bool) -> None:
    """Make a recovery key pair, on a trusted offline machine. Keep recovery-private.json
    and its passphrase offline; give only recovery.pub (or its contents, as
    SIPADU_RECOVERY_PUBLIC_KEY) to the server."""
    if passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
    else:
        passphrase = click.prompt(
            "Passphrase for the private key", hide_input=True, confirmation_prompt=True
        )
    try:
        files = recovery.write_keypair(Path(directory), passphrase, Argon2Params())
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"public key:  {files.public}")
    click.echo(f"private key: {files.private}  (keep offline)")
    click.echo(f"fingerprint: {files.fingerprint}")


@recovery_group.command("grant")
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--report", "report_id", required=True, type=click.UUID)
@click.option("--to", "username", required=True, help="The investigator to give the report.")
@click.option("--passphrase-stdin", is_flag=True, help="Read the passphrase from standard input.")
def recovery_grant_command(
    key_file: str, report_id: uuid.UUID, username: str, passphrase_stdin: bool
) -> None:
    """Give a report to an investigator from the recovery key, e.g. after their password
    was reset: every epoch's case and internal keys are wrapped to their new key. Run
    offline with the private key file, against a database copy or the live database
    (SIPADU_DATABASE_URL)."""
    if passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
    else:
        passphrase = click.prompt("Recovery key passphrase", hide_input=True)
    try:
        private = recovery.load_private(Path(key_file), passphrase)
    except (CryptoError, ValueError, KeyError) as exc:
        raise click.ClickException(f"cannot open the recovery key: {exc}") from None
    with _session(_config()) as session:
        account = find_by_username(session, username.strip().lower())
        if account is None:
            raise click.ClickException(f"no staff account {username!r}")
        copied = recovery_grant(session, report_id, private, account)
    click.echo(f"granted: {copied} key(s) of report {report_id} wrapped to {account.username}")


@main.group("coi")
def coi_group() -> None:
    """The conflict-of-interest team's outside keyholders (docs/conflict-of-interest.md)."""


def _age_identity(path: Path) -> PrivateKey:
    """The X25519 key of the first ``AGE-SECRET-KEY-1…`` line of an age identity file
    (as ``age-keygen`` writes it: comment lines, then the key)."""
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        if line.strip().upper().startswith("AGE-SECRET-KEY-1"):
            try:
                return age_private_key(line.strip())
            except CryptoError:
                break
    raise click.ClickException(f"{path}: no age X25519 identity (AGE-SECRET-KEY-1…) in it")


@coi_group.command("export")
@click.option(
    "--identity",
    "identity_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The outside keyholder's age identity file (AGE-SECRET-KEY-1…).",
)
@click.option("--report", "report_id", required=True, type=click.UUID)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the export (a new file): age-encrypted to the same key.",
)
def coi_export(identity_file: str, report_id: uuid.UUID, out_file: str) -> None:
    """Write a report about the Inspectorate's own staff for an outside keyholder of the
    conflict-of-interest team (BPKP, KPK): its keys are opened with the keyholder's own
    age identity, and the signed export archive is written encrypted to that same age
    key (open it with ``age -d -i IDENTITY FILE``). Never the reporter's identity.
    Recorded in the audit log (report.export_external) before anything is written."""
    private = _age_identity(Path(identity_file))
    config = _config()
    seed = load_secret(config, "audit_signing_key")
    out = Path(out_file)
    with _session(config) as session:
        pieces = external_export(session, report_id, private, seed)
        session.commit()  # the audit entry first (G4), then the bytes
        try:
            with out.open("xb") as written:
                for piece in pieces:
                    written.write(piece)
        except FileExistsError:
            raise click.ClickException(f"{out} exists: give a new file") from None
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    click.echo(f"written: {out} (age-encrypted to the keyholder's key)")


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident staff access log: checkpoints, verification, export."""


_DURATION = re.compile(r"^(\d+)([smhd])$")


def _seconds(value: str) -> int:
    match = _DURATION.match(value.strip())
    if not match:
        raise click.BadParameter("use e.g. 90s, 30m, 1h or 1d")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def _signing_seed(config: Config) -> bytes:
    try:
        return load_secret(config, "audit_signing_key")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@audit_group.command("checkpoint")
@click.option("--every", default=None, help="Only if the latest checkpoint is older (e.g. 1h).")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the checkpoint here.")
def audit_checkpoint(every: str | None, out: str | None) -> None:
    """Sign the log's current head. Prints the checkpoint as JSON: auditors keep copies.
    Seals finished days' receipt commitments first (docs/receipt.md), due or not."""
    interval = _seconds(every) if every else None
    config = _config()
    seed = _signing_seed(config)
    with _session(config) as session:
        # Finished days' receipt commitments first: sealing signs a checkpoint of its
        # own, due or not, so that reporters get their receipts (docs/receipt.md).
        sealed = receipts.seal_finished_days(
            session, seed, datetime.now(UTC), config.date_precision
        )
        latest = audit.latest_checkpoint(session)
        if sealed is not None:
            click.echo(f"receipts: sealed {len(sealed.days)} day(s)", err=True)
        elif interval is not None and latest is not None:
            age = datetime.now(UTC) - datetime.strptime(latest.at, "%Y-%m-%dT%H:%M:%S.%f%z")
            if age.total_seconds() < interval:
                click.echo(
                    f"not due: latest checkpoint is {int(age.total_seconds())} s old", err=True
                )
                return
        checkpoint = sealed.checkpoint if sealed else audit.make_checkpoint(session, seed)
    document = json.dumps(checkpoint.to_json(), indent=1)
    if out:
        Path(out).write_text(document + "\n")
    click.echo(document)


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "kept",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A checkpoint file an auditor kept (repeatable).",
)
@click.option(
    "--public-key",
    "pinned",
    default=None,
    help="The checkpoint public key you pinned (hex); by default the instance's own.",
)
def audit_verify(kept: tuple[str, ...], pinned: str | None) -> None:
    """Check every link, hash and checkpoint, every checkpoint against the pinned key.
    Prints OK <count> <head-hash>, or fails naming the first bad entry."""
    config = _config()
    try:
        checkpoints = [audit.Checkpoint.from_json(json.loads(Path(p).read_text())) for p in kept]
    except (ValueError, KeyError) as exc:
        raise click.ClickException(f"unreadable checkpoint file: {exc}") from None
    # Never the key a checkpoint carries: a database writer can store one of their own.
    expected = pinned.strip().lower() if pinned else _public_key_hex(config)
    if not expected:
        raise click.ClickException(
            "no public key to check checkpoints against: pass --public-key (the key you "
            "pinned), or run where the signing key or SIPADU_AUDIT_PUBLIC_KEY is readable"
        )
    engine = make_engine(config.database_url)
    try:
        with engine.connect() as connection:
            verdict = audit.verify_chain(connection, checkpoints, expected)
    finally:
        engine.dispose()
    click.echo(verdict.line())
    if verdict.unsigned():
        click.echo(f"note: {verdict.unsigned()} (a database writer could rewrite them)")
    if not verdict.ok:
        sys.exit(1)


def _public_key_hex(config: Config) -> str | None:
    """The instance's checkpoint key, if this host knows it (the signing key, else
    SIPADU_AUDIT_PUBLIC_KEY); never a key read from the database."""
    try:
        return instance_audit_public_key(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@audit_group.command("public-key")
def audit_public_key() -> None:
    """Print the checkpoint signing public key (hex), for auditors to pin."""
    key = _public_key_hex(_config())
    if key is None:
        raise click.ClickException(
            "the audit signing key is not readable here and SIPADU_AUDIT_PUBLIC_KEY is not set"
        )
    click.echo(key)


@audit_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--since", type=int, default=0, help="Only entries after this sequence number.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
def audit_export(fmt: str, since: int, out: str | None) -> None:
    """Stream the log with the latest checkpoint and the public key, for offline checks."""
    config = _config()
    with _session(config) as session:
        checkpoint = record_export(session, OPERATOR, fmt, since)
    # Committed: the export holds its own entry, as the staff portal's does.
    public_key = _public_key_hex(config)  # the instance's, never a checkpoint row's
    stream = open(out, "w", newline="") if out else sys.stdout
    try:
        with _reader(config) as reader:
            for line in audit.export_lines(reader, fmt, since, checkpoint, public_key):
                stream.write(line)
    finally:
        if out:
            stream.close()


@main.group("transparency")
def transparency_group() -> None:
    """The monthly public transparency report (docs/transparency.md)."""


def _month(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        transparency.month_bounds(value)
    except ValueError:
        raise click.BadParameter("write the month as YYYY-MM, e.g. 2026-11") from None
    return value


@transparency_group.command("publish")
@click.option("--month", required=True, callback=_month, help="YYYY-MM, a month that is over.")
@click.option("--replace", is_flag=True, help="Publish a published month again (recorded).")
def transparency_publish(month: str, replace: bool) -> None:
    """Compute, sign and publish MONTH's report on the reporter portal (/transparansi),
    bound to a new audit checkpoint; recorded as transparency.publish. Prints the
    document's SHA-256."""
    config = _config()
    seed = _signing_seed(config)
    with _session(config) as session:
        published = transparency.publish(
            session,
            month,
            signing_seed=seed,
            threshold=config.transparency_threshold,
            precision=config.date_precision,
            words=in_both_languages(CATEGORY_LABELS),
            today=datetime.now(UTC).date(),
            actor=OPERATOR,
            replace=replace,
        )
    done = "replaced" if published.replaced else "published"
    click.echo(f"{done} {published.month} sha256 {published.sha256}")


@transparency_group.command("facts")
@click.option("--month", required=True, callback=_month, help="YYYY-MM, a published month.")
@click.option(
    "--out",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    help="Where to write the document and the facts file.",
)
def transparency_facts(month: str, directory: str) -> None:
    """Write a published month's document (transparency-MONTH.json) and facts file
    (facts-MONTH.csv) for an auditor, and print the facts file's salt (the recipe of
    docs/transparency.md takes all three). Recorded as transparency.facts."""
    config = _config()
    with _session(config) as session:
        found = transparency.facts_of(session, month, OPERATOR)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"transparency-{month}.json").write_bytes(found.document)
    (folder / f"facts-{month}.csv").write_bytes(found.facts)
    click.echo(f"salt {found.salt}")


@main.command()
@click.option("--portal", type=click.Choice(["both", "reporter", "staff"]), default="both")
def serve(portal: str) -> None:
    """Serve the portals under gunicorn (reporter on SIPADU_REPORTER_BIND, staff on
    SIPADU_STAFF_BIND). Stops both if either stops."""
    config = _config()
    if not config.production:
        # Create development secrets and the demo recovery key once, here, rather than
        # in both portals at once.
        generate_missing(config)
        recovery.make_demo_key(config)
    portals = ["reporter", "staff"] if portal == "both" else [portal]
    children = [
        subprocess.Popen([sys.executable, "-m", "sipadu.hosting.serve", name])  # noqa: S603 — fixed argv
        for name in portals
    ]
    click.echo(
        f"reporter portal: http://{config.reporter_bind}/  staff portal: http://{config.staff_bind}/"
        if portal == "both"
        else f"{portal} portal starting",
        err=True,
    )

    signalled: set[int] = set()

    def stop(*_args: object) -> None:
        # Once per child: a second SIGTERM during gunicorn's graceful shutdown kills it.
        for child in children:
            if child.poll() is None and child.pid not in signalled:
                signalled.add(child.pid)
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(child.poll() is None for child in children):  # either one ends the service
        time.sleep(0.5)
    stop()
    sys.exit(max(abs(child.wait()) for child in children))


if __name__ == "__main__":
    main()
