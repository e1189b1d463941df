"""The auditor's view of the access log: pages and filters, verification against
checkpoints the auditor kept, checkpoint and export downloads, daily reporter counts.
No report content is reachable from here."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, g, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, Actor, Checkpoint
from sipadu.investigator.blueprint import bp, runtime, signing_public_key_hex
from sipadu.investigator.forms import (
    ActionForm,
    AuditFilterForm,
    SelectChoice,
    VerifyForm,
)
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.words import actor_said, entry_words, said
from sipadu.persistence.models import AuditCheckpoint, Role, StaffAccount
from sipadu.services.audit_log import (
    AuditFilter,
    NoPinnedKey,
    checkpoint_now,
    checkpoints,
    daily_counts,
    record_export,
    record_verification,
    verify_log,
    view_page,
)
from sipadu.services.dates import today
from sipadu.services.staff import find_by_username, normalize_username
from sipadu.web.context import (
    app_config,
    content_disposition,
    db_session,
    download,
    stream,
    transaction,
)
from sipadu.web.formdata import MemoryPart, Refusal, UploadRefused, receive_files, receives_files


def _criteria(form: AuditFilterForm) -> AuditFilter:
    actor = (form.actor.data or "").strip() or None
    if actor and actor not in audit.ACTORS:
        account = find_by_username(db_session(), normalize_username(actor))
        if account is not None:
            actor = str(account.id)
    report_id = None
    if form.report.data:
        try:
            report_id = uuid.UUID(form.report.data.strip())
        except ValueError:
            form.report.errors = [_("Not a report id.")]
    return AuditFilter(actor, form.action.data or None, report_id, form.since.data, form.until.data)


@bp.get("/audit")
@requires(Policy.AUDITOR)
def audit_log() -> ResponseReturnValue:
    form = AuditFilterForm(request.args)
    form.action.choices = [SelectChoice("", _("Any action"))] + [
        SelectChoice(a.value, said(a.value, "action")) for a in Action
    ]
    valid = form.validate()
    criteria = _criteria(form) if valid else AuditFilter()
    before = request.args.get("before", type=int)
    with transaction(write=True) as writing:  # recorded before the page is shown
        result = view_page(writing, g.staff.account.id, criteria, before)
        names = {str(a.id): a.username for a in writing.scalars(select(StaffAccount))}
    status = 200 if valid and not form.report.errors else 400
    older = None
    if result.next_before is not None:
        # The filters only: other names in the query string would reach url_for as its
        # own options (``_external``, ``_method``, ``endpoint``...). Filter names have no
        # leading underscore, so Any is what url_for's **values take.
        query: dict[str, Any] = {k: v for k, v in request.args.items() if k in form}
        query["before"] = result.next_before
        older = url_for("staff.audit_log", **query)
    words = {e.seq: entry_words(e, names) for e in result.entries}
    actors = {e.seq: actor_said(e.actor, names) for e in result.entries}
    return render_template(
        "staff/audit/log.html", form=form, page=result, actors=actors, older=older, words=words
    ), status


CHECKPOINT_BYTES = 64 * 1024  # a checkpoint file is well under 1 KB
MAX_CHECKPOINTS = 20


def _checkpoint_part(index: int, _filename: str, _content_type: str) -> MemoryPart:
    if index >= MAX_CHECKPOINTS:
        raise UploadRefused(Refusal.TOO_MANY_FILES)
    return MemoryPart(CHECKPOINT_BYTES)


@bp.route("/audit/verify", methods=["GET", "POST"])
@requires(Policy.AUDITOR)
@receives_files("checkpoints", _checkpoint_part)
def audit_verify() -> ResponseReturnValue:
    """Check the whole chain against checkpoint files the auditor kept: the server's own
    checkpoints could have been rewritten together with the log. The files are read
    only here, from a signed-in auditor, in memory (a few KB each)."""
    refused = receive_files() if request.method == "POST" else None
    form = VerifyForm()
    if not form.validate_on_submit() or refused is not None:
        if refused is not None:
            form.checkpoints.errors = [
                _(
                    "Only checkpoint files can be checked here: a few KB each, at most "
                    "%(count)d at once. Choose the files again.",
                    count=MAX_CHECKPOINTS,
                )
            ]
        status = refused.status if refused else 400 if request.method == "POST" else 200
        return render_template("staff/audit/verify.html", form=form, verdict=None), status
    kept: list[Checkpoint] = []
    for upload in form.checkpoints.data:
        try:
            data = json.loads(upload.read(CHECKPOINT_BYTES).decode("utf-8"))
            kept.append(Checkpoint.from_json(data))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            form.checkpoints.errors = [
                _("%(name)s is not a SIPADU checkpoint file.", name=upload.filename or "?")
            ]
            return render_template("staff/audit/verify.html", form=form, verdict=None), 400
    # The key the auditor pinned, else the instance's own: never a key from the database.
    pinned = (request.form.get("public_key") or "").strip().lower() or signing_public_key_hex()
    try:
        with transaction() as reading:
            verdict = verify_log(reading, kept, pinned)
    except NoPinnedKey:
        form.checkpoints.errors = [
            _(
                "This server does not know its audit signing public key. Paste the key "
                "you pinned, then choose the files again."
            )
        ]
        return render_template("staff/audit/verify.html", form=form, verdict=None), 400
    with transaction(write=True) as writing:
        record_verification(writing, g.staff.account.id, verdict, len(kept))
    return render_template("staff/audit/verify.html", form=form, verdict=verdict)


@bp.get("/audit/checkpoints")
@requires(Policy.AUDITOR)
def audit_checkpoints() -> str:
    return render_template(
        "staff/audit/checkpoints.html",
        checkpoints=checkpoints(db_session()),
        public_key=signing_public_key_hex(),
        can_sign=runtime().signing_seed is not None,
        form=ActionForm(),
    )


@bp.post("/audit/checkpoints")
@requires(Policy.AUDITOR)
def audit_checkpoint_now() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    seed = runtime().signing_seed
    if seed is None:
        abort(
            409,
            description=_(
                "A checkpoint cannot be made on this server: the audit log's signing key is "
                "kept on another server, which makes the checkpoints on its schedule."
            ),
        )
    with transaction(write=True) as writing:
        checkpoint = checkpoint_now(
            writing,
            g.staff.account.id,
            seed,
            now=datetime.now(UTC),
            precision=app_config().date_precision,
        )
    return _checkpoint_file(checkpoint)


def _checkpoint_file(checkpoint: Checkpoint) -> Response:
    response = Response(
        json.dumps(checkpoint.to_json(), indent=2) + "\n", mimetype="application/json"
    )
    response.headers["Content-Disposition"] = content_disposition(
        f"sipadu-checkpoint-{checkpoint.seq}.json"
    )
    return response


@bp.get("/audit/checkpoints/<uuid:checkpoint_id>.json")
@requires(Policy.AUDITOR)
def audit_checkpoint_file(checkpoint_id: uuid.UUID) -> Response:
    row = db_session().get(AuditCheckpoint, checkpoint_id)
    if row is None:
        abort(404)
    return _checkpoint_file(Checkpoint(row.seq, row.hash, row.at, row.public_key, row.signature))


@bp.get("/audit/public-key")
@requires(Policy.AUDITOR)
def audit_public_key() -> Response:
    key = signing_public_key_hex()  # never a checkpoint row's key: rows can be forged
    if key is None:
        abort(404)
    response = Response(key + "\n", mimetype="text/plain")
    response.headers["Content-Disposition"] = content_disposition("sipadu-audit-public-key.txt")
    return response


@bp.get("/audit/export.<any(jsonl, csv):fmt>")
@requires(Policy.AUDITOR)
@download
def audit_export(fmt: str) -> Response:
    """The whole log (or from ``since``), streamed in constant memory. The export is
    recorded first, so it contains its own entry."""
    since = max(0, request.args.get("since", 0, type=int))
    with transaction(write=True) as writing:
        auditor = Actor(str(g.staff.account.id), Role.AUDITOR.value)
        latest = record_export(writing, auditor, fmt, since)
    public_key = signing_public_key_hex()  # the instance's, never a row's

    # A batch at a time, each in a short transaction (sipadu.web).
    def begin(reader: Session) -> tuple[None, Iterator[bytes]]:
        lines = audit.export_lines(reader, fmt, since, latest, public_key)
        return None, (line.encode("utf-8") for line in lines)

    _none, body = stream(begin)
    mimetype = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(f"sipadu-audit.{fmt}")
    return response


@bp.get("/audit/activity")
@requires(Policy.AUDITOR)
def audit_activity() -> str:
    """Reporter activity as counts per day, week or month (the date precision) only:
    reporters are never individual entries."""
    precision = runtime().date_precision
    metrics, rows = daily_counts(db_session(), 90, today(), precision)
    return render_template(
        "staff/audit/activity.html",
        metrics=metrics,
        rows=rows,
        precision=precision.value,
    )
