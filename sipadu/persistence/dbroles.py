"""Least privilege on PostgreSQL: the database role the reporter portal connects as.

The reporter portal faces the internet (or Tor). If it is ever compromised, its database
role should give as little as possible: it can store reports and read what a reporter's
mailbox needs (ciphertext only) and the routing and public keys that submission wraps
to. It cannot read the audit log, staff sessions, staff secrets (password records,
sealed keys, TOTP seeds, link tokens), internal notes, identity requests, proposals,
an agency's answer to a referral or the staff's digest addresses
(``staff_notification``: no grant at all).
Row-level security narrows it further: in each transaction the portal names the report
it works on (or the lookup id a reporter typed; ``db.scope_to_report``), and the role
sees only that report's rows, the mailbox with that lookup id, and staged (not yet
linked) uploads. It cannot list reports, dump mailbox records for offline guessing, or
harvest other reports' ciphertext. One function it may call counts mailbox records by
Argon2 cost (:data:`COSTS_FUNCTION`), for the decoy of an unknown code. The owner role
(staff portal, CLI, timers) is not subject to these policies.
"""

import re

from sqlalchemy import Connection, text

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# How many mailbox records have each Argon2 cost: the first 10 bytes of each record
# (version, t, m, p; docs/crypto.md), counted. The reporter portal runs its decoy for an
# unknown code at one of these costs (sipadu.services.mailbox.decoy_params), but its
# role sees, through row-level security, no mailbox but the typed code's: a direct count
# would show a live code's cost and nothing for an unknown one, the very difference the
# decoy hides. So the owner role counts, in a SECURITY DEFINER function that returns
# only costs and counts, never a salt, verifier or row.
COSTS_FUNCTION = "sipadu_mailbox_costs"
_COSTS_SQL = (
    "CREATE OR REPLACE FUNCTION sipadu_mailbox_costs() RETURNS TABLE (head bytea, records bigint) "
    "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS "
    "$$ SELECT substr(secret_record, 1, 10), count(*) FROM mailbox GROUP BY 1 $$"
)

# (privileges, table) — "(columns)" after a privilege limits it to those columns.
REPORTER_GRANTS: list[tuple[str, str]] = [
    ("SELECT", "category"),
    ("SELECT", "category_route"),
    ("SELECT", "unit"),  # the form's "unit concerned" (issue 18)
    ("SELECT", "unit_route"),  # routing by unit
    ("SELECT", "staff_role"),
    ("SELECT (id, state, public_key)", "staff_account"),
    # escalated_on: the period a reporter first forwarded their report (issue 20)
    ("SELECT, INSERT, UPDATE (reporter_messages, escalated_on)", "report"),
    # A reporter's answer to a typed report is sealed in place (sipadu.services.transcript);
    # only those two fields, by REPORTER_UPDATE_LIMITS below: never the report's text.
    ("SELECT, INSERT, UPDATE (epoch, sealed)", "report_field"),
    ("SELECT, INSERT", "report_key"),
    ("INSERT", "report_grant"),
    # A new passphrase (or a re-hash) replaces the record and the sealed key; a new code
    # (a rekey of the mailbox) also its lookup id.
    ("SELECT, INSERT, UPDATE (secret_record, sealed_private_key, lookup_id)", "mailbox"),
    ("SELECT, INSERT", "message"),
    ("SELECT, INSERT", "attachment"),
    ("SELECT, INSERT, UPDATE, DELETE", "blob"),
    ("SELECT, INSERT, DELETE", "blob_chunk"),
    ("SELECT, INSERT, UPDATE", "reporter_daily_count"),
    # coi (issue 18): who a report about the inspectorate's own staff is wrapped to
    ("SELECT (id, kind, account_id, recipient, state)", "coi_member"),
    # transparency (issue 19): the published monthly reports, never their facts files
    ("SELECT (id, month, document, published_on)", "transparency_report"),
    # receipts (issue 20, docs/receipt.md): a submission stores its commitment, never its
    # batch (only the sealer, the owner, sets that); a mailbox builds its receipt from
    # its day's commitments (hashes that name no report), its batch and its seal (the
    # checkpoint and the receipt.day entries it covers: the audit log stays unreadable)
    ("SELECT, INSERT (id, day, commitment)", "receipt_commitment"),
    ("SELECT", "receipt_batch"),
    ("SELECT", "receipt_seal"),
    # whether its report was stored before receipts (else a missing nonce was removed):
    # its own row only (REPORTER_POLICIES), never written (only migration 0027 does)
    ("SELECT", "report_before_receipts"),
    # escalation (issue 20): the agencies offered to reporters, their public keys,
    # upload addresses and the signatures over them (checked); never a proposal
    (
        "SELECT (id, name, recipient, state, offered_to_reporters, reporter_channel,"
        " offer_signature)",
        "export_recipient",
    ),
    # referral (issue 20): the mailbox says "referred to <agency> on <day>" and whether the
    # identity was passed on (the profile); never the agency's answer or its key
    ("SELECT (report_id, agency, referred_on, profile)", "referral"),
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
    statements += [
        _COSTS_SQL,
        f"REVOKE ALL ON FUNCTION {COSTS_FUNCTION}() FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {COSTS_FUNCTION}() TO {quoted}",
    ]
    return statements


_REPORT = "nullif(current_setting('sipadu.report', true), '')::uuid"
_LOOKUP = "decode(nullif(current_setting('sipadu.lookup', true), ''), 'hex')"
_OWN_BLOBS = f"(NOT linked OR id IN (SELECT blob_id FROM attachment WHERE report_id = {_REPORT}))"  # noqa: S608 — fixed text
# table -> (rows the role may see and change, rows it may write)
REPORTER_POLICIES: dict[str, tuple[str, str]] = {
    "report": (f"id = {_REPORT}", f"id = {_REPORT}"),
    "report_field": (f"report_id = {_REPORT}", f"report_id = {_REPORT}"),
    "report_key": (f"report_id = {_REPORT}", f"report_id = {_REPORT}"),
    "report_grant": (f"report_id = {_REPORT}", f"report_id = {_REPORT}"),
    "message": (f"report_id = {_REPORT}", f"report_id = {_REPORT}"),
    "attachment": (f"report_id = {_REPORT}", f"report_id = {_REPORT}"),
    "report_before_receipts": (f"report_id = {_REPORT}", f"report_id = {_REPORT}"),
    "mailbox": (f"report_id = {_REPORT} OR lookup_id = {_LOOKUP}", f"report_id = {_REPORT}"),
    "referral": (f"report_id = {_REPORT}", f"report_id = {_REPORT}"),
    "blob": (_OWN_BLOBS, _OWN_BLOBS),
    "blob_chunk": ("blob_id IN (SELECT id FROM blob)", "blob_id IN (SELECT id FROM blob)"),
}

# table -> the only rows the role may UPDATE, a restrictive policy ANDed with the one
# above. The reporter answers a typed report's transcript check by re-sealing two fields
# (sipadu.services.reports TRANSCRIPT_FIELD, TRANSCRIPT_CORRECTION_FIELD), and the first
# sign-in's new code marks a third (CODE_RENEWED_FIELD; issue 18);
# the column grant keeps it from renaming a row into them. A compromised reporter host
# can thus not overwrite a report's title, text or any other field.
REPORTER_UPDATE_LIMITS: dict[str, str] = {
    "report_field": "name IN ('transcript', 'transcript_correction', 'code_renewed')",
}


def reporter_policy_sql(role: str) -> list[str]:
    """Row-level security for the role (idempotent: policies are replaced)."""
    statements = []
    for table, (visible, writable) in REPORTER_POLICIES.items():
        name = f"sipadu_{role}_{table}"[:63]
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f'DROP POLICY IF EXISTS "{name}" ON {table}',
            f'CREATE POLICY "{name}" ON {table} TO "{role}" USING ({visible}) '
            f"WITH CHECK ({writable})",
        ]
    for table, updatable in REPORTER_UPDATE_LIMITS.items():
        name = f"sipadu_{role}_{table}"[:56] + "_update"  # never the policy above
        statements += [
            f'DROP POLICY IF EXISTS "{name}" ON {table}',
            f'CREATE POLICY "{name}" ON {table} AS RESTRICTIVE FOR UPDATE TO "{role}" '
            f"USING ({updatable}) WITH CHECK ({updatable})",
        ]
    return statements


def apply_reporter_role(connection: Connection, role: str) -> None:
    database = connection.execute(text("SELECT current_database()")).scalar_one()
    for statement in [*reporter_role_sql(role, database), *reporter_policy_sql(role)]:
        connection.exec_driver_sql(statement)
