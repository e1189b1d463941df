"""The ``sipadu`` command: operator tasks on the server (a click group, as Flask's CLI).

Commands work on config and the database directly, without building a web app, so
``init`` runs before any secret exists. That is why this is a plain click group and not
Flask's ``AppGroup``, which would wrap every command in an app context. Output never
includes report data; the only secrets printed are the ones the operator must hand over
(demo credentials, a new account's TOTP secret).
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import click
from sqlalchemy import inspect

from sipadu import __version__
from sipadu.config import Config, ConfigError, from_environ
from sipadu.db import make_engine, make_sessionmaker
from sipadu.instance import ensure_instance, generate_missing
from sipadu.migrate import upgrade
from sipadu.models import CategorySlug, Role
from sipadu.security import harden_process
from sipadu.services import ServiceError
from sipadu.services.categories import add_route, category_by_slug, remove_route, seed_categories
from sipadu.services.staff import create_account, find_by_username

DEMO_ACCOUNTS = [
    (Role.ADMIN, "admin"),
    (Role.INVESTIGATOR, "pemeriksa1"),
    (Role.INVESTIGATOR, "pemeriksa2"),
    (Role.CUSTODIAN, "inspektur"),
    (Role.AUDITOR, "auditor"),
]


def _config() -> Config:
    try:
        return from_environ()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _session(config: Config):
    engine = make_engine(config.database_url)
    session = make_sessionmaker(engine)()
    try:
        yield session
        session.commit()
    except ServiceError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
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
        for slug in seed_categories(session):
            click.echo(f"created category: {slug}", err=True)
        if demo:
            lines = _create_demo_accounts(session, config)
    if demo:
        path = config.instance_path / "demo-credentials.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        click.echo("\n".join(lines))
        click.echo(f"(demo accounts: not for real reports; also saved in {path})", err=True)


def _create_demo_accounts(session, config: Config) -> list[str]:
    lines = []
    investigators = []
    for role, username in DEMO_ACCOUNTS:
        if find_by_username(session, username) is not None:
            raise ServiceError(f"demo account {username!r} exists already")
        password = secrets.token_urlsafe(12)
        new = create_account(session, username, {role}, password=password, argon2=config.argon2)
        if role is Role.INVESTIGATOR:
            investigators.append(new.account)
        lines.append(f"demo {role.value} {username} {password} {new.totp_secret}")
    session.flush()
    for slug in CategorySlug:
        category = category_by_slug(session, slug.value)
        for account in investigators:
            add_route(session, category, account)
    return lines


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
        )
    click.echo(f"totp_secret: {new.totp_secret}")
    if password is None:
        click.echo("no password set: the account has no key until it is activated", err=True)


@main.group()
def route() -> None:
    """Which investigators new reports in a category are encrypted to."""


def _route_args(session, category: str, username: str):
    account = find_by_username(session, username.strip().lower())
    if account is None:
        raise ServiceError(f"no staff account {username!r}")
    return category_by_slug(session, category), account


@route.command("add")
@click.argument("category")
@click.argument("username")
def route_add(category: str, username: str) -> None:
    """Route new reports in CATEGORY to investigator USERNAME."""
    with _session(_config()) as session:
        changed = add_route(session, *_route_args(session, category, username))
    click.echo("routed" if changed else "already routed")


@route.command("remove")
@click.argument("category")
@click.argument("username")
def route_remove(category: str, username: str) -> None:
    """Stop routing new reports in CATEGORY to USERNAME (existing grants stay)."""
    with _session(_config()) as session:
        changed = remove_route(session, *_route_args(session, category, username))
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


@main.command()
@click.option("--portal", type=click.Choice(["both", "reporter", "staff"]), default="both")
def serve(portal: str) -> None:
    """Serve the portals under gunicorn (reporter on SIPADU_REPORTER_BIND, staff on
    SIPADU_STAFF_BIND). Stops both if either stops."""
    config = _config()
    portals = ["reporter", "staff"] if portal == "both" else [portal]
    children = [
        subprocess.Popen([sys.executable, "-m", "sipadu.serve", name])  # noqa: S603 — fixed argv
        for name in portals
    ]
    click.echo(
        f"reporter portal: http://{config.reporter_bind}/  staff portal: http://{config.staff_bind}/"
        if portal == "both"
        else f"{portal} portal starting",
        err=True,
    )

    def stop(*_args: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(child.poll() is None for child in children):  # either one ends the service
        time.sleep(0.5)
    stop()
    sys.exit(max(abs(child.wait()) for child in children))


if __name__ == "__main__":
    main()
