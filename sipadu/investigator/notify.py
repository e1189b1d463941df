"""The daily digest on the staff portal (issue 19, item 1; docs/staff.md "Daily
digest"): the account page's form for one's own address, the "always send" choice and
an OpenPGP key, the code that confirms the address (mailed by ``sipadu notify``, never
from here), and the digest itself on the home page when no SMTP server is set."""

from datetime import UTC, datetime

from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from sipadu.investigator.blueprint import bp, runtime
from sipadu.investigator.forms import ConfirmCodeForm, DigestForm, PasswordChangeForm
from sipadu.investigator.policy import Policy, requires
from sipadu.persistence.models import Role, StaffAccount
from sipadu.services import ServiceError, confirmation
from sipadu.services.dates import today
from sipadu.services.digest import Digest, digest_for
from sipadu.services.key_ring import display_fingerprint
from sipadu.services.notifications import choices, remove_address, save_choices
from sipadu.web.context import transaction
from sipadu.web.refusal_messages import message

# The roles a digest has something to say for: others see no digest on their home page.
DIGEST_ROLES = frozenset({Role.INVESTIGATOR, Role.CUSTODIAN, Role.ADMIN})


def digest_context(
    me: StaffAccount, form: DigestForm | None = None, code_form: ConfirmCodeForm | None = None
) -> dict[str, object]:
    """What the account page shows of the digest: the form (filled with what is stored,
    unless ``form`` is one sent back with its errors), the stored choices, where the
    address's confirmation stands (with the code form, or ``code_form`` sent back), and
    how the digest reaches the person (by mail at the hour, or on the home page)."""
    with transaction() as reading:
        stored = choices(reading, me.id, runtime().notify_key)
        confirmed = confirmation.where(reading, me.id, datetime.now(UTC))
    if form is None:
        form = DigestForm(
            formdata=None,
            data={"address": stored.address or "", "always_send": stored.always_send},
        )
    return {
        "digest_form": form,
        "digest": stored,
        "confirmation": None if confirmed is None else confirmed.value,
        "code_form": code_form or ConfirmCodeForm(formdata=None),
        "code_hours": confirmation.CODE_HOURS,
        "notify_domains": runtime().notify_domains,
        "mail_configured": runtime().mail_configured,
        "digest_hour": runtime().digest_hour,
        "time_zone": runtime().time_zone,
    }


@bp.post("/account/digest")
@requires(Policy.SIGNED_IN)
def account_digest() -> ResponseReturnValue:
    """Register, change or remove one's own digest address and choices (``action``:
    ``save`` or ``remove``). Refused input comes back with everything typed and the
    reason beside its field."""
    form = DigestForm()
    me = g.staff.account
    if form.validate_on_submit():
        try:
            with transaction(write=True) as writing:
                _apply(writing, writing.merge(me), form, request.form.get("action"))
        except ServiceError as exc:
            target = form[exc.field] if exc.field in form else form.address
            target.errors = [message(exc)]
        else:
            return redirect(url_for("staff.account", digest="saved", _anchor="digest"), 303)
    return _refused_page(me, form=form)


@bp.post("/account/digest/confirm")
@requires(Policy.SIGNED_IN)
def account_digest_confirm() -> ResponseReturnValue:
    """Confirm one's own digest address with the code mailed to it (``action``
    ``confirm``), or ask for a new code (``action`` ``new_code``; the next run mails
    it). The try is counted and committed before the code is compared. A refused code
    comes back typed, with the reason beside it."""
    form = ConfirmCodeForm()
    me = g.staff.account
    if form.validate_on_submit():
        try:
            if request.form.get("action") == "new_code":
                with transaction(write=True) as writing:
                    confirmation.ask_new_code(writing, writing.merge(me))
                return redirect(url_for("staff.account", digest="new_code", _anchor="digest"), 303)
            code = confirmation.normalized(form.code.data or "")
            with transaction(write=True) as writing:
                confirmation.take_try(writing, me.id, datetime.now(UTC))
            with transaction(write=True) as writing:
                confirmation.confirm(writing, writing.merge(me), runtime().notify_key, code)
        except ServiceError as exc:
            form.code.errors = [message(exc)]
        else:
            return redirect(url_for("staff.account", digest="confirmed", _anchor="digest"), 303)
    return _refused_page(me, code_form=form)


def _refused_page(
    me: StaffAccount, form: DigestForm | None = None, code_form: ConfirmCodeForm | None = None
) -> ResponseReturnValue:
    return (
        render_template(
            "staff/account.html",
            form=PasswordChangeForm(formdata=None),
            me=me,
            fingerprint=display_fingerprint(me),
            notice=None,
            two_codes=False,
            **digest_context(me, form, code_form),
        ),
        400,
    )


def _apply(session: Session, me: StaffAccount, form: DigestForm, action: str | None) -> None:
    if action == "remove":
        remove_address(session, me)
        return
    save_choices(
        session,
        me,
        runtime().notify_key,
        address=form.address.data or "",
        always_send=bool(form.always_send.data),
        openpgp_key=form.openpgp_key.data or "",
        drop_openpgp=bool(form.drop_openpgp.data),
        domains=runtime().notify_domains,
    )


def home_digest(session: Session, me: StaffAccount) -> Digest | None:
    """The digest shown on the home page when it is not mailed (no SMTP configured): the
    same counts ``sipadu notify`` would send today; None when it is mailed, or when the
    person holds no role a digest speaks for."""
    if runtime().mail_configured or not me.role_set & DIGEST_ROLES:
        return None
    return digest_for(session, me.id, me.role_set, today())
