"""The investigator's casework pages: the report list, a report, its files, replies,
notes, status, sharing, identity requests, export and the printable case file.

Every page that shows or changes a report records itself first, in the transaction of
the change, and commits before any plaintext leaves (G4). A report without a grant for
the signed-in investigator is a 404, whatever its id.
"""

import uuid
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from flask import Response, abort, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import ServiceUnavailable

from sipadu.evidence.confinement import Confinement
from sipadu.evidence.safe_copy import CannotConvert, Limits, offered_for
from sipadu.investigator.blueprint import bp, runtime
from sipadu.investigator.forms import (
    PART_LABELS,
    SEARCH_SOURCE_LABELS,
    ActionForm,
    BundleForm,
    CaseFilterForm,
    ConfirmForm,
    ExportForm,
    GrantForm,
    IdentityRequestForm,
    LabelsForm,
    LeadForm,
    LinkForm,
    NoteForm,
    PrintForm,
    RecuseForm,
    ReferForm,
    ReopenForm,
    ReplyForm,
    ResponseForm,
    SearchForm,
    SelectChoice,
    SpamForm,
    StatusForm,
    UnlinkForm,
    entered,
)
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.words import SAFE_COPY_REFUSALS, said
from sipadu.persistence.models import CoiMemberKind, ReportStatus, Role, StaffAccount
from sipadu.persistence.slots import Busy, SlotPool, pool_directory
from sipadu.services import IntegrityFailed, Reason, ServiceError, casework, key_ring, safe_copies
from sipadu.services import grants as grants_service
from sipadu.services import referral as referrals
from sipadu.services.attachments import AttachmentInfo, read_attachment
from sipadu.services.case_file import open_for_print, status_history
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
    reopen,
    reply,
)
from sipadu.services.categories import in_order
from sipadu.services.conflict_of_interest import concerns_inspectorate, is_member
from sipadu.services.dates import today
from sipadu.services.export import (
    age_encrypted,
    hash_files,
    manifest_sha256,
    open_for_export,
    report_zip,
)
from sipadu.services.export_recipients import (
    age_recipient,
    canonical_recipient,
    registered,
    registered_recipient,
    short_fingerprint,
)
from sipadu.services.key_ring import HeldKeys, NoKey, staff_keys
from sipadu.services.search import search_cases
from sipadu.settings.config import Config
from sipadu.web.context import (
    app_config,
    content_disposition,
    download,
    read_sessions,
    stream,
    transaction,
    write_sessions,
)
from sipadu.web.errors import integrity_failed
from sipadu.web.formdata import UploadRefused, receives_files
from sipadu.web.forms import BoundedForm
from sipadu.web.language_switch import refused_status
from sipadu.web.refusal_messages import message
from sipadu.web.uploads import (
    evidence_part,
    files_again,
    forget_files,
    upload_limits,
    uploaded_files,
)
from sipadu.web.words import STATUS_LABELS

SAFE_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
SAFE_COPY_QUEUE = 4  # requests waiting for a converter on this host; more: "busy" at once


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
            (c.slug, said(c.slug, "category")) for c in in_order(reading)
        ]
    valid = form.validate()
    criteria = (
        CaseFilter(
            form.status.data or None,
            form.category.data or None,
            form.deadline.data or None,
            bool(form.unread.data),
            bool(form.spam.data),
            (form.label.data or "").strip() or None,
            form.priority.data or None,
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
    search = SearchForm(formdata=None)
    return render_template(
        "staff/cases/list.html", form=form, page=page, older=older, search=search
    ), (200 if valid else 400)


@bp.get("/reports/search")
@requires(Policy.INVESTIGATOR)
def reports_search_box() -> str:
    """The search box alone: where a reload, Back or an old address of the results
    lands (the words are never in an address)."""
    return render_template("staff/cases/search.html", form=SearchForm(formdata=None), page=None)


@bp.post("/reports/search")
@requires(Policy.INVESTIGATOR)
def reports_search() -> ResponseReturnValue:
    """Search the signed-in investigator's own reports, decrypting them in this request
    (:func:`sipadu.services.search.search_cases`); the reports read are recorded and
    committed before the results are shown. A POST: the words stay out of addresses and
    logs. The answer is the results page itself (no redirect, which would need the words
    in an address or a session); "continue" posts the same words with the cursor. Found
    reports open in a new tab, so the results stay (docs/casework.md, "Search"); a
    language switch shows the box again holding the words, searching nothing."""
    form = SearchForm()
    if not form.validate_on_submit():
        status = refused_status()
        return render_template("staff/cases/search.html", form=form, page=None), status
    try:
        with transaction(write=True) as writing:  # recorded before the results leave
            page = search_cases(
                writing, _me().id, g.staff.private_key(), form.q.data or "", form.after.data
            )
    except ServiceError as exc:
        target = form[exc.field] if exc.field in form else form.q
        target.errors = [message(exc)]
        return render_template("staff/cases/search.html", form=form, page=None), 400
    # Each label translated once, not once per row found (up to SCAN_LIMIT rows).
    return render_template(
        "staff/cases/search.html",
        form=form,
        page=page,
        source_labels={k: str(v) for k, v in SEARCH_SOURCE_LABELS.items()},
        status_words={k: str(v) for k, v in STATUS_LABELS.items()},
    )


def _case_page(report_id: uuid.UUID, **forms: BoundedForm) -> str:
    try:
        with transaction(write=True) as writing:  # the read is recorded before the page leaves
            keys = _keys(writing, report_id)
            view = open_case(writing, keys, _me().id)
            work = casework.casework_of(writing, keys, _me().id, g.staff.private_key())
            holders = key_ring.holders(writing, report_id)
            colleagues = [
                a
                for a in writing.scalars(select(StaffAccount).order_by(StaffAccount.username))
                if Role.INVESTIGATOR in a.role_set and a.active and a not in holders
            ]
            coi = concerns_inspectorate(writing, keys)  # coi (issue 18): the team only
            team = CoiMemberKind.INVESTIGATOR
            colleagues = [a for a in colleagues if not coi or is_member(writing, a.id, team)]
            referred = referrals.referrals_of(writing, keys)  # issue 20
            agencies = registered(writing)
    except (NotGranted, NoKey):  # no grant, or a grant whose keys are gone
        abort(404)
    grant_form = forms.pop("grant_form", None) or GrantForm()
    grant_form.colleague.choices = [(str(a.id), a.username) for a in colleagues]
    labels_form = forms.pop("labels_form", None)
    if labels_form is None:
        labels_form = LabelsForm()
        if work.record is not None:
            labels_form.labels.data = ", ".join(work.record.labels)
            labels_form.priority.data = work.record.priority.value
    lead_form = forms.pop("lead_form", None) or LeadForm()
    lead_form.lead.choices = [("", _("No lead investigator"))] + [
        (str(a.id), f"{a.display_name} ({a.username})")
        for a in holders
        if a.active and Role.INVESTIGATOR in a.role_set
    ]
    if lead_form.lead.data is None and work.lead is not None:
        lead_form.lead.data = str(work.lead.id)
    # Each referral form is drawn unbound unless it is the one that was refused: bound to
    # another form's POST, its boxes would all read as unticked.
    refer_form = forms.pop("refer_form", None) or ReferForm(formdata=None)
    refer_form.to.choices = [SelectChoice(str(a.id), a.name) for a in agencies]
    if refer_form.to.data is None and len(agencies) == 1:
        refer_form.to.data = str(agencies[0].id)  # the only one: chosen, still to be confirmed
    status = ReportStatus(view.report.status)
    usual = NEXT_STEP.get(status)
    status_form = forms.pop("status_form", None) or StatusForm(data={"status": usual or ""})
    return render_template(
        "staff/cases/view.html",
        view=view,
        work=work,
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
        reopen_form=forms.pop("reopen_form", None) or ReopenForm(),
        labels_form=labels_form,
        lead_form=lead_form,
        link_form=forms.pop("link_form", None) or LinkForm(),
        unlink_form=forms.pop("unlink_form", None) or UnlinkForm(),
        recuse_form=forms.pop("recuse_form", None) or RecuseForm(),
        identity_form=forms.pop("identity_form", None) or IdentityRequestForm(),
        grant_form=grant_form,
        action_form=forms.pop("action_form", None) or ActionForm(),
        spam_form=forms.pop("spam_form", None) or SpamForm(),
        upload_limits=upload_limits(app_config()),
        concerns_inspectorate=coi,
        referrals=referred,
        agencies=agencies,
        agency_fingerprints={a.id: short_fingerprint(a.recipient) for a in agencies},
        referable=status in referrals.REFERABLE,
        refer_form=refer_form,
        response_form=forms.pop("response_form", None) or ResponseForm(formdata=None),
        bundle_form=forms.pop("bundle_form", None) or BundleForm(formdata=None),
        part_labels=PART_LABELS,
        today=today(),
        safe_copy_offered=offered_for,
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
    then: str | None = None,
) -> ResponseReturnValue:
    """Validate ``form``, run ``action(writing, keys)`` with its audit entry in one
    transaction; a refused change re-shows the report with the reason beside the form.
    Done, it goes back to the report (or to ``then``)."""
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
    if not valid:  # or a language switch: the form again, as typed
        return _case_page(report_id, **{form_name: form}), refused_status()
    return redirect(then or url_for("staff.report", report_id=report_id), code=303)


@bp.post("/reports/<uuid:report_id>/messages")
@requires(Policy.INVESTIGATOR)
@receives_files("attachments", evidence_part)
def report_reply(report_id: uuid.UUID) -> ResponseReturnValue:
    """A message to the reporter, with files if any were chosen (docs/casework.md,
    "Files to the reporter"). The files are read only once the investigator is known to
    hold the report and the text is valid, encrypted as they arrive and cleaned of
    image metadata as the reporter's are (:mod:`sipadu.web.uploads`); they are linked in
    the transaction that writes the message and its audit entry. Any refusal shows the
    case again with the typed text, saying which files to choose again; whatever was
    staged is deleted when the request ends."""
    form = ReplyForm()
    with transaction() as reading:
        try:
            granted(reading, report_id, _me().id)
        except NotGranted:
            abort(404)  # before a byte of the files is read
    if not form.validate_on_submit():
        forget_files(form.attachments)
        return _case_page(report_id, reply_form=form), refused_status()
    try:
        files = uploaded_files(form.attachments)
    except UploadRefused as refused:
        return _case_page(report_id, reply_form=form), refused.status, refused.headers
    try:
        with transaction(write=True) as writing:
            keys = _keys(writing, report_id)
            reply(
                writing,
                keys,
                _me().id,
                entered(form.body),
                today(),
                runtime().date_precision,
                files=files,
            )
    except (NotGranted, NoKey):  # revoked while the files arrived
        abort(404)
    except ServiceError as exc:
        target = form[exc.field] if exc.field in form else None
        (target.errors if target is not None else form.form_errors).append(message(exc))
        if files:
            form.attachments.errors = [files_again()]
        return _case_page(report_id, reply_form=form), 400
    return redirect(url_for("staff.report", report_id=report_id), code=303)


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


@bp.post("/reports/<uuid:report_id>/reopen")
@requires(Policy.INVESTIGATOR)
def report_reopen(report_id: uuid.UUID) -> ResponseReturnValue:
    """A closed or rejected report back in review, with a reason the reporter reads."""
    form = ReopenForm()
    return _act(
        report_id,
        form,
        "reopen_form",
        lambda s, keys: reopen(s, keys, _me().id, entered(form.reopen_reason)),
    )


@bp.post("/reports/<uuid:report_id>/labels")
@requires(Policy.INVESTIGATOR)
def report_labels(report_id: uuid.UUID) -> ResponseReturnValue:
    form = LabelsForm()
    return _act(
        report_id,
        form,
        "labels_form",
        lambda s, keys: casework.set_labels(
            s,
            keys,
            _me().id,
            form.labels.data or "",
            form.priority.data or "",
            erase_confirmed=bool(form.confirm.data),
        ),
    )


@bp.post("/reports/<uuid:report_id>/lead")
@requires(Policy.INVESTIGATOR)
def report_lead(report_id: uuid.UUID) -> ResponseReturnValue:
    form = LeadForm()

    def choose(session: Session, keys: HeldKeys) -> None:
        try:
            lead = uuid.UUID(form.lead.data) if form.lead.data else None
        except ValueError:
            raise ServiceError(Reason.LEAD_NOT_HOLDER, "lead") from None
        casework.set_lead(session, keys, _me_in(session), lead)

    return _act(report_id, form, "lead_form", choose)


@bp.post("/reports/<uuid:report_id>/links")
@requires(Policy.INVESTIGATOR)
def report_link(report_id: uuid.UUID) -> ResponseReturnValue:
    form = LinkForm()
    return _act(
        report_id,
        form,
        "link_form",
        lambda s, keys: casework.link(
            s,
            keys,
            _me().id,
            g.staff.private_key(),
            casework.report_id_in(entered(form.other)),
            form.kind.data or "",
        ),
    )


@bp.post("/reports/<uuid:report_id>/links/<uuid:other_id>/remove")
@requires(Policy.INVESTIGATOR)
def report_unlink(report_id: uuid.UUID, other_id: uuid.UUID) -> ResponseReturnValue:
    """Remove a link (confirmed with the tick beside its button; a refusal is shown
    beside that button only)."""
    form = UnlinkForm()
    form.target = other_id
    return _act(
        report_id,
        form,
        "unlink_form",
        lambda s, keys: casework.unlink(s, keys, _me().id, g.staff.private_key(), other_id),
    )


@bp.post("/reports/<uuid:report_id>/recuse")
@requires(Policy.INVESTIGATOR)
def report_recuse(report_id: uuid.UUID) -> ResponseReturnValue:
    """Step down from a report (confirmed with a tick): access ends at once, so the
    next page is the report list."""
    return _act(
        report_id,
        RecuseForm(),
        "recuse_form",
        lambda s, _held: casework.recuse(
            s, report_id, _me_in(s), g.staff.private_key(), runtime().recovery
        ),
        then=url_for("staff.reports"),
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
    """Take a colleague's access away (confirmed with the tick beside that colleague's
    button; a refusal is shown beside that button only)."""
    form = ConfirmForm()
    form.target = account_id
    return _act(
        report_id,
        form,
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


# --- referral (issue 20; docs/referral.md) ----------------------------------------------


def _referral_part(report_id: uuid.UUID) -> str:
    return url_for("staff.report", report_id=report_id, _anchor="part-referral")


@bp.post("/reports/<uuid:report_id>/referrals")
@requires(Policy.INVESTIGATOR)
def report_refer(report_id: uuid.UUID) -> ResponseReturnValue:
    """Refer the report to a registered agency (confirmed with a tick): recorded with the
    profile, the status becomes "referred", and the case page shows the referral with
    its bundle to download (a POST of its own, each download recorded). The form sent
    again (a double click, a resend) is the same referral: the page shows it once, its
    bundle still there to download."""
    form = ReferForm()

    def refer(session: Session, keys: HeldKeys) -> None:
        try:
            recipient_id = uuid.UUID(form.to.data or "")
        except ValueError:
            raise ServiceError(Reason.NO_SUCH_RECIPIENT, "to") from None
        referrals.refer(
            session,
            keys,
            _me().id,
            recipient_id,
            referrals.Profile.keeping(form.include.data or []),
            form.refer_reason.data or "",
            today(),
            runtime().follow_up,
        )

    return _act(report_id, form, "refer_form", refer, then=_referral_part(report_id))


@bp.post("/reports/<uuid:report_id>/referrals/<uuid:referral_id>/response")
@requires(Policy.INVESTIGATOR)
def report_referral_response(report_id: uuid.UUID, referral_id: uuid.UUID) -> ResponseReturnValue:
    """Record the agency's answer to a referral: its follow-up ends."""
    form = ResponseForm()
    form.target = referral_id
    return _act(
        report_id,
        form,
        "response_form",
        lambda s, keys: referrals.record_response(
            s, keys, _me().id, referral_id, entered(form.response), today()
        ),
        then=_referral_part(report_id),
    )


@bp.post("/reports/<uuid:report_id>/referrals/<uuid:referral_id>/bundle")
@requires(Policy.INVESTIGATOR)
@download
def report_referral_bundle(report_id: uuid.UUID, referral_id: uuid.UUID) -> ResponseReturnValue:
    """A referral's bundle: today's signed export of the report, redacted by the
    referral's profile, age-encrypted to the agency's registered key, streamed. The
    download is recorded (``referral.bundle``) and committed before the first byte; a
    refusal (the agency's key left the registry, the identity not to be seen, the
    profile changed in the database) shows the case page saying why. A POST, so no
    link prefetch or reload makes one."""
    form = BundleForm()
    form.target = referral_id
    with transaction() as reading:
        try:
            granted(reading, report_id, _me().id)
        except NotGranted:
            abort(404)
    if not form.validate_on_submit():  # a language switch, or no CSRF token
        return _case_page(report_id, bundle_form=form), refused_status()
    seed = _signing_seed()
    try:
        with transaction(write=True) as writing:  # recorded before the first byte
            bundle = referrals.open_bundle(
                writing, _keys(writing, report_id), _me().id, referral_id, today()
            )
    except (NotGranted, NoKey):  # revoked meanwhile
        abort(404)
    except ServiceError as exc:
        form.form_errors.append(message(exc))
        return _case_page(report_id, bundle_form=form), 400
    if bundle is None:  # the profile failed its check: recorded (committed above)
        return integrity_failed()
    view, omit, manifest = bundle.view, bundle.omit, bundle.manifest
    _none, body = stream(
        lambda reader: (
            None,
            report_zip(view, _keys(reader, report_id), seed, omit=omit, referral=manifest),
        ),
        report_id=report_id,
        around=partial(age_encrypted, recipient=age_recipient(bundle.recipient)),
    )
    response = Response(body, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = content_disposition(bundle.filename)
    return response


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


def safe_copy_limits(config: Config) -> Limits:
    """The limits of one safe copy, from ``SIPADU_SAFE_COPY_*`` (docs/casework.md)."""
    cpu = config.safe_copy_cpu_seconds
    return Limits(
        max_pages=config.safe_copy_max_pages,
        dpi=config.safe_copy_dpi,
        max_page_pixels=config.safe_copy_page_pixels,
        max_total_pixels=config.safe_copy_total_pixels,
        max_input_bytes=config.safe_copy_max_bytes,
        render=Confinement(config.safe_copy_memory_bytes, cpu),
        # LibreOffice writes the file, its PDF and its profile in the scratch folder.
        office=Confinement(
            config.safe_copy_office_memory_bytes, cpu, 2 * config.safe_copy_max_bytes
        ),
        build=Confinement(config.safe_copy_memory_bytes, cpu),
    )


def _safe_copy_pool() -> SlotPool:
    pools = current_app.extensions.setdefault("sipadu.safe_copy_pools", {})
    if not pools:
        config = app_config()
        pools["pool"] = SlotPool(
            pool_directory(config, "safe-copy"), config.safe_copy_converters, SAFE_COPY_QUEUE
        )
    pool: SlotPool = pools["pool"]
    return pool


@bp.post("/reports/<uuid:report_id>/attachments/<uuid:attachment_id>/safe-copy")
@requires(Policy.INVESTIGATOR)
@download
def report_safe_copy(report_id: uuid.UUID, attachment_id: uuid.UUID) -> ResponseReturnValue:
    """A file's safe copy (issue 21): made now if it has none (seconds, in confined
    children, holding a converter slot), then downloaded like a file: the download is
    recorded (``attachment.safe_copy``) and committed before the first byte. A file that
    cannot be converted gets a page saying why, in the reader's language, with the
    original still offered; ``retry`` tries again a remembered refusal. A POST, so no
    link prefetch starts a conversion."""
    form = ActionForm()
    if not form.validate_on_submit():  # no CSRF token, or a language switch
        return redirect(url_for("staff.report", report_id=report_id))
    me, private = _me().id, g.staff.private_key()

    def keys_of(session: Session) -> HeldKeys:
        return staff_keys(session, report_id, me, private)

    try:
        safe_copies.make_safe_copy(
            write_sessions(),
            read_sessions(),
            keys_of,
            me,
            attachment_id,
            safe_copy_limits(app_config()),
            _safe_copy_pool(),
            retry=request.form.get("retry") == "1",
        )
        with transaction(write=True) as writing:  # recorded before the first byte
            safe_copies.download_safe_copy(writing, keys_of(writing), me, attachment_id)
        (info, copy), body = stream(
            lambda reader: safe_copies.read_safe_copy(reader, keys_of(reader), attachment_id),
            report_id=report_id,
        )
    except safe_copies.Refused as refused:
        return _no_safe_copy(report_id, attachment_id, refused.reason)
    except Busy as busy:  # every converter of this host busy: the "busy" page (503)
        raise ServiceUnavailable(retry_after=busy.retry_after) from None
    except IntegrityFailed:
        return integrity_failed()
    except (ServiceError, NoKey):  # no grant, no key, no such file
        abort(404)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = content_disposition(
        safe_copies.safe_copy_name(info.name)
    )
    response.headers["Content-Length"] = str(copy.size)
    return response


def _no_safe_copy(
    report_id: uuid.UUID, attachment_id: uuid.UUID, reason: CannotConvert
) -> ResponseReturnValue:
    status = 503 if reason == CannotConvert.NO_ISOLATION else 422
    return render_template(
        "staff/cases/no_safe_copy.html",
        report_id=report_id,
        attachment_id=attachment_id,
        why=SAFE_COPY_REFUSALS[reason],
        retry=reason not in (CannotConvert.UNSUPPORTED, CannotConvert.NO_ISOLATION),
        action_form=ActionForm(),
    ), status


@bp.route("/reports/<uuid:report_id>/export", methods=["GET", "POST"])
@requires(Policy.INVESTIGATOR)
@download
def report_export(report_id: uuid.UUID) -> ResponseReturnValue:
    """GET without any of the form's fields in the query: the form (``?lang=en`` is a
    language, not a request). The form POSTs (with CSRF), so nothing typed in it, such as
    a recipient or a private key pasted by mistake, reaches an address, the history or a
    log (review of issue 17, finding 5). With ``to`` (a registered recipient's id) or
    ``recipient`` (an ``age1…`` typed in): the ZIP encrypted to it. Plaintext only with an
    explicit confirmation, recorded as its own action. The same fields in a GET query
    still ask for an export (a saved address, a script): a private key there is refused
    and never shown either."""
    if request.method == "POST":
        form = ExportForm()
    else:
        form = ExportForm(request.args, meta={"csrf": False})
    try:
        with transaction() as reading:
            granted(reading, report_id, _me().id)
            recipients = registered(reading)
    except NotGranted:
        abort(404)
    form.to.choices = [SelectChoice(str(r.id), r.name) for r in recipients]
    asked = request.method == "POST" or form.asked(request.args)
    if not asked and len(recipients) == 1:
        form.to.data = str(recipients[0].id)  # the only one: chosen, still to be confirmed

    def page(status: int = 200) -> ResponseReturnValue:
        return render_template(
            "staff/cases/export.html",
            form=form,
            report_id=report_id,
            recipients=recipients,
            fingerprints={r.id: short_fingerprint(r.recipient) for r in recipients},
        ), status

    if not asked:
        return page()
    if not form.validate():
        return page(400)
    seed = _signing_seed()
    chosen, typed = form.to.data or "", (form.recipient.data or "").strip()
    if chosen and typed:
        form.recipient.errors = [
            _("Choose a registered recipient or type one in, not both."),
        ]
        return page(400)
    if not (chosen or typed or (form.plaintext.data and form.confirm.data)):
        form.to.errors = [
            _("Choose who to encrypt the export to, or confirm that you want it unencrypted.")
        ]
        return page(400)
    try:
        recipient = canonical_recipient(typed) if typed else None
        with transaction(write=True) as writing:  # recorded before the first byte
            name = None
            if chosen:
                try:
                    row = registered_recipient(writing, uuid.UUID(chosen))
                except ValueError:
                    raise ServiceError(Reason.NO_SUCH_RECIPIENT, "to") from None
                recipient, name = row.recipient, row.name
            keys = _keys(writing, report_id)
            view = open_for_export(
                writing, keys, _me().id, recipient=recipient, recipient_name=name
            )
    except (NotGranted, NoKey):  # revoked since the form was checked
        abort(404)
    except ServiceError as exc:  # not an age recipient, or no longer registered
        target = form[exc.field] if exc.field in form else form.to
        target.errors = [message(exc)]
        return page(400)
    # The files are read while the archive streams, on a reading session of its own and
    # in short transactions, in the thread that builds the archive (age's, if encrypted).
    filename = f"sipadu-report-{report_id}.zip" + (".age" if recipient is not None else "")
    around = None
    if recipient is not None:
        around = partial(age_encrypted, recipient=age_recipient(recipient))
    _none, body = stream(
        lambda reader: (None, report_zip(view, _keys(reader, report_id), seed)),
        report_id=report_id,
        around=around,
    )
    response = Response(body, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = content_disposition(filename)
    return response


@bp.get("/reports/<uuid:report_id>/print")
@requires(Policy.INVESTIGATOR)
def report_print(report_id: uuid.UUID) -> ResponseReturnValue:
    """The case file for the *berkas*, to print from the browser (A4): recorded as a
    plaintext read and committed first. The SHA-256 of every file's plaintext (and so
    the export manifest's hash) is then computed on a reading session of its own, in
    short transactions, as a download reads: no lock is held meanwhile (G8)."""
    form = PrintForm(request.args)
    notes = bool(form.notes.data)
    try:
        with transaction(write=True) as writing:  # the read is recorded before the page leaves
            view = open_for_print(writing, _keys(writing, report_id), _me().id, notes=notes)
            history = status_history(writing, report_id)
            names = {str(a.id): a.username for a in writing.scalars(select(StaffAccount))}
    except (NotGranted, NoKey):
        abort(404)
    digests: dict[uuid.UUID, str] = {}
    manifest = None
    try:
        _none, pieces = stream(
            lambda reader: (None, hash_files(view, _keys(reader, report_id), digests)),
            report_id=report_id,
        )
        _drain(pieces)
        manifest = manifest_sha256(view, digests)
    except IntegrityFailed:  # a chunk altered since the page was opened: no hash to print
        pass
    except ServiceError:  # revoked, or shredded, meanwhile (NotGranted, no such file)
        abort(404)
    return render_template(
        "staff/cases/print.html",
        view=view,
        notes=notes,
        history=history,
        names=names,
        digests=digests,
        manifest=manifest,
    )


def _drain(pieces: Iterable[bytes]) -> None:
    """Read a stream from :func:`stream` to its end, dropping each piece, and close it
    (and its reading session) however it ends."""
    try:
        for _piece in pieces:
            pass
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


def _signing_seed() -> bytes:
    """The audit signing key's seed, which every export and referral bundle's manifest is
    signed with; a 409 page in words on a server that does not hold it."""
    seed = runtime().signing_seed
    if seed is None:
        abort(
            409,
            description=_(
                "Exports cannot be made on this server: every export carries a manifest "
                "signed with the audit log's signing key, and that key is kept on another "
                "server. Ask the system administrator."
            ),
        )
    return seed
