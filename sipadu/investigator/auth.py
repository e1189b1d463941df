"""Signing in and out, one-time enrollment links, and the staff member's own account."""

from collections.abc import Callable

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sipadu.investigator.blueprint import bp, now, runtime
from sipadu.investigator.devices import cookie_name, issue, recognised, remember
from sipadu.investigator.forms import (
    ActionForm,
    ActivationForm,
    LoginForm,
    PasswordChangeForm,
    TotpEnrollmentForm,
    entered,
)
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.signin import begin_session, limit_key
from sipadu.persistence.models import AccountState, EnrollmentKind, StaffAccount
from sipadu.persistence.slots import Busy
from sipadu.services import Derive, ServiceError
from sipadu.services.key_ring import display_fingerprint
from sipadu.services.staff import (
    account_for_link,
    change_password,
    complete_activation,
    complete_totp_enrollment,
)
from sipadu.services.staff_auth import check_credentials, finish_login, logout, record_failure
from sipadu.services.totp import new_secret, provisioning_uri, qr_svg
from sipadu.web.context import transaction
from sipadu.web.derivations import KNOWN, OPEN, busy_page, derivations
from sipadu.web.refusal_messages import message


@bp.route("/login", methods=["GET", "POST"])
@requires(Policy.PUBLIC)
def login() -> ResponseReturnValue:
    """Username, password and a current code.

    A browser with a valid device cookie for the typed account (:mod:`.devices`) signs
    in through the derivation pool's reserved lane, against the device's own failure
    budget: strangers guessing can fill neither. Every other attempt is an ordinary one:
    the open lane, and the typed name's budget, past which sign-in is not refused but
    needs two codes of consecutive steps (asked for before any Argon2id, the same for
    unknown names). Either budget's place is taken atomically once a slot is held and
    before the derivation, and given back on success, so exactly the documented number
    of failures is ever checked with one code. 503 and the same form when busy."""
    form = LoginForm()
    if request.method == "GET" and g.staff is not None:
        return redirect(url_for("staff.index"), code=303)
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return _login_page(form, two_codes=bool(form.totp_next.data)), status
    username, password, code = entered(form.username), entered(form.password), entered(form.totp)
    rt = runtime()
    moment = now()
    counters, limit = current_app.extensions["sipadu.counters"], rt.failures_per_account
    try:
        with transaction() as reading:
            cookie = request.cookies.get(cookie_name(rt.production))
            device = recognised(reading, rt.device_key, cookie, username, moment)
            if device is not None and counters.test(limit, device):
                lane, key, second_code = KNOWN, device, None
            else:
                lane, key = OPEN, limit_key(username)
                second_code = form.totp_next.data or None
            over_limit = lane == OPEN and not counters.test(limit, key)
            if over_limit and second_code is None:
                return _login_page(form, two_codes=True), 429
            with derivations().slot(lane) as run:
                place = counters.take(limit, key, force=second_code is not None)
                if place is None:  # spent by attempts that held a slot while this one waited
                    return _login_page(form, two_codes=True), 429
                checked = check_credentials(
                    reading,
                    username,
                    password,
                    code,
                    argon2=rt.argon2,
                    now=moment,
                    second_code=second_code,
                    derive=run,
                )
    except Busy as busy:
        notice = _(
            "The server is busy right now and could not check your sign-in. Nothing is "
            "lost: wait a minute, then type the code your app shows then and sign in again."
        )
        return busy_page(_login_page(form, two_codes=over_limit, notice=notice), busy)
    signed_in = None
    with transaction(write=True) as writing:
        if checked.failure is None:
            signed_in = finish_login(writing, checked, moment)
        else:
            record_failure(writing, checked.account, checked.failure)
    if signed_in is None:
        # One answer for every failure: which part was wrong is not said.
        form.password.data = form.totp.data = form.totp_next.data = ""
        form.username.errors = [
            _("Sign-in failed. Check your username, password and the current code.")
        ]
        two_codes = lane == OPEN and not counters.test(limit, key)
        return _login_page(form, two_codes=two_codes), 400
    counters.give_back(limit, key, place)  # only failures use up a budget
    begin_session(signed_in)
    response = redirect(url_for("staff.index"), code=303)
    value = issue(rt.device_key, signed_in.account, moment)
    return remember(response, value, rt.production)


def _login_page(form: LoginForm, *, two_codes: bool, notice: str | None = None) -> str:
    return render_template("staff/login.html", form=form, two_codes=two_codes, notice=notice)


@bp.post("/logout")
@requires(Policy.SIGNED_IN)
def logout_view() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    with transaction(write=True) as writing:
        logout(writing, g.staff)
    session.clear()
    return redirect(url_for("staff.login"), code=303)


def _link_account(session: Session, token: str) -> StaffAccount:
    account = account_for_link(session, token, now())
    if account is None:
        abort(404)
    return account


_EnrollmentForm = ActivationForm | TotpEnrollmentForm


def _enrollment_page(
    template: str,
    form: _EnrollmentForm,
    account: StaffAccount,
    status: int = 200,
    notice: str | None = None,
) -> tuple[str, int]:
    secret = form.totp_secret.data or new_secret()
    form.totp_secret.data = secret
    uri = provisioning_uri(secret, account.username)
    grouped = " ".join(secret[i : i + 4] for i in range(0, 32, 4))
    return render_template(
        template,
        form=form,
        account=account,
        qr=Markup(qr_svg(uri)),  # noqa: S704 — SVG drawn here by segno from our own data
        secret_grouped=grouped,
        notice=notice,
    ), status


def _busy_notice() -> str:
    return _(
        "The server is busy right now, so nothing was changed yet. What you typed is kept: "
        "wait a minute, then type the code your app shows then and send again."
    )


def _forget_passwords(form: _EnrollmentForm | PasswordChangeForm) -> None:
    """After a refused password, the page does not send it back."""
    for name in ("password", "password_confirm", "current"):
        if name in form:
            form[name].data = ""


# ``complete(writing, account, derive)``: the service call that finishes a one-time link.
_Complete = Callable[[Session, StaffAccount, Derive], None]


def _enroll(
    token: str, kind: EnrollmentKind, form: _EnrollmentForm, template: str, complete: _Complete
) -> StaffAccount | ResponseReturnValue:
    """Both one-time links: show the QR code, or check the form and run ``complete``
    (which derives a key from the password through the runner it is given, and raises
    :class:`ServiceError` naming its field) in one write transaction, begun once a
    derivation slot is held. The account, once done; else the page to answer with."""
    with transaction() as reading:
        account = _link_account(reading, token)
        if account.enrollment_kind != kind:
            abort(404)
        if not form.validate_on_submit():
            status = 400 if request.method == "POST" else 200
            return _enrollment_page(template, form, account, status)
        confirm = getattr(form, "password_confirm", None)
        if confirm is not None and form.password.data != confirm.data:
            confirm.errors = [_("The two passwords are not the same.")]
            _forget_passwords(form)
            return _enrollment_page(template, form, account, 400)
    try:
        # Only the holder of a one-time link gets here: the lane strangers cannot fill.
        with derivations().slot(KNOWN) as run:
            try:
                with transaction(write=True) as writing:
                    account = _link_account(writing, token)
                    complete(writing, account, run)
            except ServiceError as exc:
                _forget_passwords(form)
                _field_error(form, exc)
                return _enrollment_page(template, form, account, 400)
    except Busy as busy:
        page, _status = _enrollment_page(template, form, account, notice=_busy_notice())
        return busy_page(page, busy)
    return account


@bp.route("/activate/<token>", methods=["GET", "POST"])
@requires(Policy.PUBLIC)
def activate(token: str) -> ResponseReturnValue:
    """The one-time link an admin handed over: set a password, enroll TOTP, get a key."""
    form = ActivationForm()

    def complete(writing: Session, account: StaffAccount, derive: Derive) -> None:
        complete_activation(
            writing,
            account,
            entered(form.password),
            entered(form.totp_secret),
            entered(form.totp),
            argon2=runtime().argon2,
            now=now(),
            derive=derive,
        )

    account = _enroll(token, EnrollmentKind.ACTIVATE, form, "staff/activate.html", complete)
    if not isinstance(account, StaffAccount):
        return account  # the form again, or the busy page
    return render_template(
        "staff/activated.html",
        fingerprint=display_fingerprint(account),
        pending=account.state == AccountState.PENDING,
    )


@bp.route("/enroll/<token>", methods=["GET", "POST"])
@requires(Policy.PUBLIC)
def enroll_totp(token: str) -> ResponseReturnValue:
    """After an admin reset the TOTP seed: prove the password, enroll a new app."""
    form = TotpEnrollmentForm()

    def complete(writing: Session, account: StaffAccount, derive: Derive) -> None:
        complete_totp_enrollment(
            writing,
            account,
            entered(form.password),
            entered(form.totp_secret),
            entered(form.totp),
            now=now(),
            derive=derive,
        )

    done = _enroll(token, EnrollmentKind.TOTP, form, "staff/enroll.html", complete)
    if not isinstance(done, StaffAccount):
        return done  # the form again, or the busy page
    return render_template("staff/enrolled.html")


def _field_error(form: _EnrollmentForm | PasswordChangeForm, error: ServiceError) -> None:
    """The refusal beside the field it names, else above the form."""
    if error.field in form:
        form[error.field].errors = [message(error)]
    else:
        form.form_errors.append(message(error))


@bp.route("/account", methods=["GET", "POST"])
@requires(Policy.SIGNED_IN)
def account() -> ResponseReturnValue:
    """The signed-in person's own account: roles, key fingerprint, password change (two
    Argon2id derivations, on a slot of the staff portal's pool)."""
    form = PasswordChangeForm()
    me = g.staff.account
    if form.validate_on_submit():
        if form.password.data != form.password_confirm.data:
            form.password_confirm.errors = [_("The two passwords are not the same.")]
            _forget_passwords(form)
        else:
            try:
                with derivations().slot(KNOWN) as run:  # signed in: not a stranger
                    try:
                        with transaction(write=True) as writing:
                            change_password(
                                writing,
                                writing.merge(me),
                                entered(form.current),
                                entered(form.password),
                                runtime().argon2,
                                derive=run,
                            )
                    except ServiceError as exc:
                        _forget_passwords(form)
                        _field_error(form, exc)
                    else:
                        session.clear()
                        return render_template("staff/password_changed.html")
            except Busy as busy:
                notice = _(
                    "The server is busy right now, so your password was not changed yet. "
                    "What you typed is kept: wait a minute, then send again."
                )
                return busy_page(_account_page(form, me, notice), busy)
    status = 400 if request.method == "POST" else 200
    return _account_page(form, me), status


def _account_page(form: PasswordChangeForm, me: StaffAccount, notice: str | None = None) -> str:
    return render_template(
        "staff/account.html",
        form=form,
        me=me,
        fingerprint=display_fingerprint(me),
        notice=notice,
    )
