"""Least privilege on PostgreSQL: the database role the reporter portal connects as.

The reporter portal faces the internet (or Tor). If it is ever compromised, its database
role should give as little as possible: it can store reports and read what a reporter's
mailbox needs (ciphertext only) and the routing and public keys that submission wraps
to. It cannot read the audit log, staff sessions, staff secrets (password records,
sealed keys, TOTP seeds, link tokens), internal notes, identity requests or proposals.
Row-level restrictions are not used: other reports' rows are readable to it, but only
as ciphertext that needs a mailbox or staff key it does not have.
"""

import re

from sqlalchemy import Connection, text

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# (privileges, table) — "(columns)" after a privilege limits it to those columns.
REPORTER_GRANTS: list[tuple[str, str]] = [
    ("SELECT", "category"),
    ("SELECT", "category_route"),
    ("SELECT", "staff_role"),
    ("SELECT (id, state, public_key)", "staff_account"),
    ("SELECT, INSERT, UPDATE (reporter_messages)", "report"),
    ("SELECT, INSERT", "report_field"),
    ("SELECT, INSERT", "report_key"),
    ("INSERT", "report_grant"),
    ("SELECT, INSERT", "mailbox"),
    ("SELECT, INSERT", "message"),
    ("SELECT, INSERT", "attachment"),
    ("SELECT, INSERT, UPDATE, DELETE", "blob"),
    ("SELECT, INSERT, DELETE", "blob_chunk"),
    ("SELECT, INSERT, UPDATE", "reporter_daily_count"),
]


def reporter_role_sql(role: str, database: str) -> list[str]:
    """The statements that create (if missing) and limit the reporter portal's role."""
    if not ROLE_NAME.match(role):
        raise ValueError("role: lower-case letters, digits and _ only")
    quoted = f'"{role}"'
    statements = [
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"'{role}') THEN CREATE ROLE {quoted} LOGIN; END IF; END $$",
        f'GRANT CONNECT ON DATABASE "{database}" TO {quoted}',
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}",
    ]
    statements += [
        f"GRANT {privileges} ON {table} TO {quoted}" for privileges, table in REPORTER_GRANTS
    ]
    return statements


def apply_reporter_role(connection: Connection, role: str) -> None:
    database = connection.execute(text("SELECT current_database()")).scalar_one()
    for statement in reporter_role_sql(role, database):
        connection.exec_driver_sql(statement)
