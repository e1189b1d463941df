"""The investigator's casework pages: the report list, a report, its files, replies,
notes, status, sharing, identity requests and export.

Every page that shows or changes a report records itself first, in the transaction of
the change, and commits before any plaintext leaves (G4). A report without a grant for
the signed-in investigator is a 404, whatever its id.
"""

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.investigator.blueprint import bp, runtime
from sipadu.investigator.forms import (
    ActionForm,
    CaseFilterForm,
    ConfirmForm,
    ExportForm,
    GrantForm,
    IdentityRequestForm,
    NoteForm,
    ReplyForm,
    SpamForm,
    StatusForm,
    entered,
)
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.words import said
from sipadu.persistence.models import Category, ReportStatus, Role, StaffAccount
from sipadu.services import IntegrityFailed, Reason, ServiceError, key_ring
from sipadu.services import grants as grants_service
from sipadu.services.attachments import AttachmentInfo, read_attachment
from sipadu.services.cases import (
    NEXT_STEP,
    TRANSITIONS,
    CaseFilter,
    NotGranted,
    add_note,
    change_status,
    download_attachment,
    granted,
    list_cases,
    mark_spam,
    open_case,
    reply,
)
from sipadu.services.dates import today
from sipadu.services.export import age_encrypted, age_recipient, open_for_export, report_zip
from sipadu.services.key_ring import HeldKeys, NoKey, staff_keys
from sipadu.web.context import content_disposition, download, stream, transaction
from sipadu.web.errors import integrity_failed
from sipadu.web.forms import BoundedForm
from sipadu.web.refusal_messages import message

SAFE_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}


def _me() -> StaffAccount:
    return g.staff.account


def _me_in(session: Session) -> StaffAccount:
    """The signed-in investigator's row in ``session``. Accounts are never deleted (only
    deactivated, which ends their sessions), so it is there; get_one raises if not."""
    return session.get_one(StaffAccount, _me().id)


def _keys(session: Session, report_id: uuid.UUID) -> HeldKeys:
    return staff_keys(session, report_id, _me().id, g.staff.private_key())


@bp.get("/reports")
@requires(Policy.INVESTIGATOR)
def reports() -> ResponseReturnValue:
    form = CaseFilterForm(request.args)
    with transaction() as reading:
        form.category.choices = [("", _("Any category"))] + [
            (slug, said(slug, "category"))
            for slug in reading.scalars(select(Category.slug).order_by(Category.slug))
        ]
    valid = form.validate()
    criteria = (
        CaseFilter(
            form.status.data or None,
            form.category.data or None,
            form.deadline.data or None,
            bool(form.unread.data),
            bool(form.spam.data),
        )
        if valid
        else CaseFilter()
    )
    cursor = request.args.get("after") or None
    try:
        with transaction(write=True) as writing:  # recorded before the titles leave
            page = list_cases(writing, _me().id, g.staff.private_key(), criteria, today(), cursor)
    except ServiceError:
        abort(400)
    older = None
    if page.next_cursor:
        # The filters only: other names in the query string would reach url_for as its
        # own options (``_external``, ``_method``, ``endpoint``...). Filter names have no
        # leading underscore, so Any is what url_for's **values take.
        query: dict[str, Any] = {k: v for k, v in request.args.items() if k in form}
        query["after"] = page.next_cursor
        older = url_for("staff.reports", **query)
    return render_template("staff/cases/list.html", form=form, page=page, older=older), (
        200 if valid else 400
    )


def _case_page(report_id: uuid.UUID, **forms: BoundedForm) -> str:
    try:
        with transaction(write=True) as writing:  # the read is recorded before the page leaves
            view = open_case(writing, _keys(writing, report_id), _me().id)
            holders = key_ring.holders(writing, report_id)
            colleagues = [
                a
                for a in writing.scalars(select(StaffAccount).order_by(StaffAccount.username))
                if Role.INVESTIGATOR in a.role_set and a.active and a not in holders
            ]
    except (NotGranted, NoKey):  # no grant, or a grant whose keys are gone
        abort(404)
    grant_form = forms.pop("grant_form", None) or GrantForm()
    grant_form.colleague.choices = [(str(a.id), a.username) for a in colleagues]
    status = ReportStatus(view.report.status)
    usual = NEXT_STEP.get(status)
    status_form = forms.pop("status_form", None) or StatusForm(data={"status": usual or ""})
    return render_template(
        "staff/cases/view.html",
        view=view,
        holders=holders,
        me=_me(),
        # The usual next step first (and chosen), then the closing ones: none is chosen
        # for the reader when only closing steps are left.
        next_statuses=([usual] if usual else [])
        + sorted(s for s in TRANSITIONS[status] if s != usual),
        reply_form=forms.pop("reply_form", None) or ReplyForm(),
        note_form=forms.pop("note_form", None) or NoteForm(),
        status_form=status_form,
        usual_step=usual,
        revoke_form=forms.pop("revoke_form", None) or ConfirmForm(),
        identity_form=forms.pop("identity_form", None) or IdentityRequestForm(),
        grant_form=grant_form,
        action_form=forms.pop("action_form", None) or ActionForm(),
        spam_form=forms.pop("spam_form", None) or SpamForm(),
    )


@bp.get("/reports/<uuid:report_id>")
@requires(Policy.INVESTIGATOR)
def report(report_id: uuid.UUID) -> str:
    return _case_page(report_id)


def _act(
    report_id: uuid.UUID,
    form: BoundedForm,
    form_name: str,
    action: Callable[[Session, HeldKeys], object],
) -> ResponseReturnValue:
    """Validate ``form``, run ``action(writing, keys)`` with its audit entry in one
    transaction; a refused change re-shows the report with the reason beside the form."""
    valid = False
    try:
        with transaction(write=True) as writing:
            try:
                granted(writing, report_id, _me().id)
            except NotGranted:
                abort(404)
            valid = form.validate_on_submit()
            if valid:
                action(writing, _keys(writing, report_id))
    except ServiceError as exc:
        target = form[exc.field] if exc.field in form else None
        (target.errors if target is not None else form.form_errors).append(message(exc))
        return _case_page(report_id, **{form_name: form}), 400
    if not valid:
        return _case_page(report_id, **{form_name: form}), 400
    return redirect(url_for("staff.report", report_id=report_id), code=303)


@bp.post("/reports/<uuid:report_id>/messages")
@requires(Policy.INVESTIGATOR)
def report_reply(report_id: uuid.UUID) -> ResponseReturnValue:
    form = ReplyForm()
    rt = runtime()
    return _act(
        report_id,
        form,
        "reply_form",
        lambda s, keys: reply(s, keys, _me().id, entered(form.body), today(), rt.date_precision),
    )


@bp.post("/reports/<uuid:report_id>/notes")
@requires(Policy.INVESTIGATOR)
def report_note(report_id: uuid.UUID) -> ResponseReturnValue:
    form = NoteForm()
    return _act(
        report_id,
        form,
        "note_form",
        lambda s, keys: add_note(s, keys, _me().id, entered(form.body)),
    )


@bp.post("/reports/<uuid:report_id>/status")
@requires(Policy.INVESTIGATOR)
def report_status(report_id: uuid.UUID) -> ResponseReturnValue:
    form = StatusForm()
    return _act(
        report_id,
        form,
        "status_form",
        lambda s, keys: change_status(
            s, keys, _me().id, form.status.data, form.reason.data or "", today()
        ),
    )


@bp.post("/reports/<uuid:report_id>/spam")
@requires(Policy.INVESTIGATOR)
def report_spam(report_id: uuid.UUID) -> ResponseReturnValue:
    """Hide junk from every holder's default list (confirmed with a tick)."""
    return _act(
        report_id, SpamForm(), "spam_form", lambda s, _held: mark_spam(s, report_id, _me().id, True)
    )


@bp.post("/reports/<uuid:report_id>/not-spam")
@requires(Policy.INVESTIGATOR)
def report_not_spam(report_id: uuid.UUID) -> ResponseReturnValue:
    return _act(
        report_id,
        ActionForm(),
        "action_form",
        lambda s, _held: mark_spam(s, report_id, _me().id, False),
    )


@bp.post("/reports/<uuid:report_id>/grants")
@requires(Policy.INVESTIGATOR)
def report_grant(report_id: uuid.UUID) -> ResponseReturnValue:
    form = GrantForm()
    form.colleague.choices = None  # any id; the service checks who it is

    def share(session: Session, keys: HeldKeys) -> None:
        try:
            colleague_id = uuid.UUID(form.colleague.data or "")
        except ValueError:
            raise ServiceError(Reason.NO_COLLEAGUE_CHOSEN, "colleague") from None
        grants_service.grant(session, keys, _me_in(session), colleague_id)

    return _act(report_id, form, "grant_form", share)


@bp.post("/reports/<uuid:report_id>/grants/<uuid:account_id>/revoke")
@requires(Policy.INVESTIGATOR)
def report_revoke(report_id: uuid.UUID, account_id: uuid.UUID) -> ResponseReturnValue:
    return _act(
        report_id,
        ConfirmForm(),
        "revoke_form",
        lambda s, keys: grants_service.revoke(
            s, report_id, _me_in(s), account_id, runtime().recovery
        ),
    )


@bp.post("/reports/<uuid:report_id>/identity-requests")
@requires(Policy.INVESTIGATOR)
def report_identity_request(report_id: uuid.UUID) -> ResponseReturnValue:
    form = IdentityRequestForm()
    return _act(
        report_id,
        form,
        "identity_form",
        lambda s, keys: grants_service.request_identity(
            s, report_id, _me_in(s), entered(form.reason), runtime().recovery
        ),
    )


@bp.get("/reports/<uuid:report_id>/attachments/<uuid:attachment_id>")
@requires(Policy.INVESTIGATOR)
@download
def report_attachment(report_id: uuid.UUID, attachment_id: uuid.UUID) -> ResponseReturnValue:
    """A file, decrypted as it streams, in constant memory. The download is recorded and
    committed first; the file is then read on a reading session of its own, so a slow
    reader holds no lock (:func:`sipadu.web.context.stream`). An altered chunk breaks the
    download off."""
    try:
        with transaction(write=True) as writing:  # recorded before the first byte
            checked = download_attachment(
                writing, _keys(writing, report_id), _me().id, attachment_id
            )
    except ServiceError:  # no grant, no key, no such file
        abort(404)
    if not checked.intact:  # its failure is recorded (committed above); nothing is sent
        return integrity_failed()
    try:
        info, body = stream(
            lambda reader: _attachment(reader, report_id, attachment_id), report_id=report_id
        )
    except IntegrityFailed:  # altered since the commit
        return integrity_failed()
    except ServiceError:  # shredded since the commit
        abort(404)
    mimetype = (
        info.content_type if info.content_type in SAFE_IMAGE_TYPES else "application/octet-stream"
    )
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(info.name)
    response.headers["Content-Length"] = str(info.size)
    return response


def _attachment(
    session: Session, report_id: uuid.UUID, attachment_id: uuid.UUID
) -> tuple[AttachmentInfo, Iterator[bytes]]:
    """The file's details and its plaintext stream (lazy: nothing of it is read yet)."""
    keys = _keys(session, report_id)
    return read_attachment(session, report_id, attachment_id, keys)


@bp.get("/reports/<uuid:report_id>/export")
@requires(Policy.INVESTIGATOR)
@download
def report_export(report_id: uuid.UUID) -> ResponseReturnValue:
    """Without parameters: the export form. With an age recipient: the ZIP encrypted to
    it. Plaintext only with an explicit confirmation, recorded as its own action."""
    form = ExportForm(request.args)
    try:
        with transaction() as reading:
            granted(reading, report_id, _me().id)
    except NotGranted:
        abort(404)
    if not request.args:
        return render_template("staff/cases/export.html", form=form, report_id=report_id)
    if not form.validate():
        return render_template("staff/cases/export.html", form=form, report_id=report_id), 400
    seed = runtime().signing_seed
    if seed is None:
        abort(409, description="the audit signing key is not on this server; exports need it")
    recipient = None
    if form.recipient.data:
        try:
            recipient = age_recipient(form.recipient.data)
        except ServiceError as exc:
            form.recipient.errors = [message(exc)]
            return render_template("staff/cases/export.html", form=form, report_id=report_id), 400
    elif not (form.plaintext.data and form.confirm.data):
        form.recipient.errors = [
            _("Give an age recipient, or confirm that you want the export unencrypted.")
        ]
        return render_template("staff/cases/export.html", form=form, report_id=report_id), 400
    try:
        with transaction(write=True) as writing:  # recorded before the first byte
            keys = _keys(writing, report_id)
            view = open_for_export(writing, keys, _me().id, encrypted=recipient is not None)
    except (NotGranted, NoKey):  # revoked since the form was checked
        abort(404)
    # The files are read while the archive streams, on a reading session of its own and
    # in short transactions, in the thread that builds the archive (age's, if encrypted).
    name = f"sipadu-report-{report_id}.zip" + (".age" if recipient is not None else "")
    _none, body = stream(
        lambda reader: (None, report_zip(view, _keys(reader, report_id), seed)),
        report_id=report_id,
        around=None if recipient is None else lambda pieces: age_encrypted(pieces, recipient),
    )
    response = Response(body, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = content_disposition(name)
    return response
