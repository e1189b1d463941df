"""Signing in and out, one-time enrollment links, and the staff member's own account."""

import base64
from collections.abc import Callable

from flask import abort, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sipadu.crypto import CryptoError, derive_subkey, open_secret, seal_secret
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
from sipadu.investigator.guesses import account_key, give_back, has_room, link_key, take_place
from sipadu.investigator.notify import digest_context
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.signin import begin_session
from sipadu.persistence.models import AccountState, EnrollmentKind, StaffAccount
from sipadu.persistence.slots import Busy
from sipadu.services import Derive, ServiceError
from sipadu.services.key_ring import display_fingerprint
from sipadu.services.links import token_hash
from sipadu.services.staff import (
    WRONG_PASSWORD_PROOF,
    account_for_link,
    change_password,
    complete_activation,
    complete_totp_enrollment,
)
from sipadu.services.staff_auth import (
    Failure,
    Proof,
    check_credentials,
    finish_login,
    logout,
    record_failure,
    record_proof_failure,
)
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
    try:
        with transaction() as reading:
            cookie = request.cookies.get(cookie_name(rt.production))
            device = recognised(reading, rt.device_key, cookie, username, moment)
            if device is not None and has_room(device):
                lane, key, second_code = KNOWN, device, None
            else:
                lane, key = OPEN, account_key(username)
                second_code = form.totp_next.data or None
            over_limit = lane == OPEN and not has_room(key)
            if over_limit and second_code is None:
                return _login_page(form, two_codes=True), 429
            with derivations().slot(lane) as run:
                place = take_place(key, force=second_code is not None)
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
        form.password.data = form.totp.data = form.totp_next.data = ""
        if checked.failure == Failure.NOT_ACTIVE and checked.account is not None:
            # Password and code were right: only their holder reads why, and it is no
            # guess, so it uses up no budget (a waiting colleague is never pushed to two
            # codes by trying again).
            give_back(place)
            form.username.errors = [_not_active(AccountState(checked.account.state))]
        else:  # One answer for every other failure: which part was wrong is not said.
            form.username.errors = [
                _("Sign-in failed. Check your username, password and the current code.")
            ]
        two_codes = lane == OPEN and not has_room(key)
        return _login_page(form, two_codes=two_codes), 400
    give_back(place)  # only failures use up a budget
    begin_session(signed_in)
    response = redirect(url_for("staff.index"), code=303)
    value = issue(rt.device_key, signed_in.account, moment)
    return remember(response, value, rt.production)


def _not_active(state: AccountState) -> str:
    """Why an account whose password and code were right may not sign in."""
    if state == AccountState.PENDING:
        return _(
            "Your password and code are right, but your account still waits for a second "
            "administrator to approve it. Ask an administrator; then sign in again."
        )
    return _(
        "Your password and code are right, but this account is not active (it was "
        "deactivated). Ask an administrator."
    )


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


# The TOTP seed an enrollment sets up is made by the server and kept in this browser's
# session cookie (signed with the portal's key, so it cannot be forged), sealed under a
# key only the link's token gives, and bound to that link: never read from the form. A
# posted seed once let the enrolling person choose the account's second factor (issue
# 15). Each browser gets its own: an admin who opens the link they issued sees another
# seed than the person does.
_ENROLLMENT = "staff_enrollment"
_SEED_LABEL = "sipadu.staff.enrollment-seed.v1"


def _seed_key(token: str) -> tuple[bytes, str]:
    link = token_hash(token)
    return derive_subkey(token.encode("ascii", "replace"), _SEED_LABEL), f"enrollment/{link}"


def _kept_seed(token: str) -> str | None:
    """The seed this browser was shown for the link ``token``, if any."""
    kept = session.get(_ENROLLMENT)
    key, owner = _seed_key(token)
    if not isinstance(kept, dict) or kept.get("link") != owner:
        return None
    try:
        sealed = base64.urlsafe_b64decode(kept["seed"])
        return open_secret(key, sealed, owner=owner, purpose="totp-seed").decode("ascii")
    except (CryptoError, KeyError, ValueError, TypeError):
        return None


def _enrollment_seed(token: str) -> str:
    """The kept seed, or a new one kept now (the first view of the link here)."""
    seed = _kept_seed(token)
    if seed is None:
        seed = new_secret()
        key, owner = _seed_key(token)
        sealed = seal_secret(key, seed.encode("ascii"), owner=owner, purpose="totp-seed")
        session[_ENROLLMENT] = {"link": owner, "seed": base64.urlsafe_b64encode(sealed).decode()}
    return seed


_EnrollmentForm = ActivationForm | TotpEnrollmentForm


def _enrollment_page(
    template: str,
    form: _EnrollmentForm,
    account: StaffAccount,
    seed: str,
    status: int = 200,
    notice: str | None = None,
) -> tuple[str, int]:
    uri = provisioning_uri(seed, account.username)
    grouped = " ".join(seed[i : i + 4] for i in range(0, len(seed), 4))
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


def _too_many_notice() -> str:
    return _(
        "Too many wrong passwords were typed for this account in the last hour, perhaps by "
        "someone guessing, so this one was not checked and nothing was changed. Wait an "
        "hour and try again; if you did not type them, tell an admin."
    )


def _forget_passwords(form: _EnrollmentForm | PasswordChangeForm) -> None:
    """After a refused password, the page does not send it back."""
    for name in ("password", "password_confirm", "current"):
        if name in form:
            form[name].data = ""


# ``complete(writing, account, seed, derive)``: the service call that finishes a link.
_Complete = Callable[[Session, StaffAccount, str, Derive], None]


def _enroll(
    token: str,
    kind: EnrollmentKind,
    form: _EnrollmentForm,
    template: str,
    complete: _Complete,
    proof: Proof | None = None,
) -> StaffAccount | ResponseReturnValue:
    """Both one-time links: show the QR code of the seed kept for this browser, or
    check the form and run ``complete`` (which derives a key from the password through
    the runner it is given, and raises :class:`ServiceError` naming its field) in one
    write transaction, begun once a derivation slot is held. With ``proof`` the password
    proves the account's (a TOTP enrollment): the attempt takes a place in the account's
    guess budget, shared with sign-in, else in the budget of the account's links
    (one for all of them, :mod:`.guesses`); 429
    when both are spent, and a wrong password is recorded. The account, once done; else
    the page to answer with."""
    with transaction() as reading:
        account = _link_account(reading, token)
        if account.enrollment_kind != kind:
            abort(404)
        kept = _kept_seed(token)
        seed = kept or _enrollment_seed(token)
        if not form.validate_on_submit():
            status = 400 if request.method == "POST" else 200
            return _enrollment_page(template, form, account, seed, status)
        if kept is None:  # a POST from a browser that was never shown a seed for the link
            form.totp.errors = [
                _("Scan this code into your app first, then type the code it shows.")
            ]
            return _enrollment_page(template, form, account, seed, 400)
        confirm = getattr(form, "password_confirm", None)
        if confirm is not None and form.password.data != confirm.data:
            confirm.errors = [_("The two passwords are not the same.")]
            _forget_passwords(form)
            return _enrollment_page(template, form, account, seed, 400)
        budgets = [account_key(account.username), link_key(account.username)] if proof else []
    if budgets and not any(has_room(key) for key in budgets):
        return _enrollment_page(template, form, account, seed, 429, _too_many_notice())
    try:
        # Only the holder of a one-time link gets here: the lane strangers cannot fill.
        with derivations().slot(KNOWN) as run:
            place = None
            if budgets:
                place = take_place(budgets[0]) or take_place(budgets[1])
                if place is None:  # spent by attempts that held a slot while this one waited
                    notice = _too_many_notice()
                    return _enrollment_page(template, form, account, seed, 429, notice)
            try:
                with transaction(write=True) as writing:
                    account = _link_account(writing, token)
                    complete(writing, account, seed, run)
            except ServiceError as exc:
                if place is not None and proof is not None and exc.reason in WRONG_PASSWORD_PROOF:
                    with transaction(write=True) as writing:
                        failed = _link_account(writing, token)
                        record_proof_failure(writing, failed, proof, through_link=True)
                elif place is not None:
                    give_back(place)  # no password was checked
                _forget_passwords(form)
                _field_error(form, exc)
                return _enrollment_page(template, form, account, seed, 400)
            if place is not None:
                give_back(place)
    except Busy as busy:
        page, _status = _enrollment_page(template, form, account, seed, notice=_busy_notice())
        return busy_page(page, busy)
    session.pop(_ENROLLMENT, None)  # the seed is now sealed under the password only
    return account


@bp.route("/activate/<token>", methods=["GET", "POST"])
@requires(Policy.PUBLIC)
def activate(token: str) -> ResponseReturnValue:
    """The one-time link an admin handed over: set a password, enroll TOTP, get a key."""
    form = ActivationForm()

    def complete(writing: Session, account: StaffAccount, seed: str, derive: Derive) -> None:
        complete_activation(
            writing,
            account,
            entered(form.password),
            seed,
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
    """After a TOTP reset: prove the password, enroll a new app (the password guesses
    count against the account's budget, :mod:`.guesses`)."""
    form = TotpEnrollmentForm()

    def complete(writing: Session, account: StaffAccount, seed: str, derive: Derive) -> None:
        complete_totp_enrollment(
            writing,
            account,
            entered(form.password),
            seed,
            entered(form.totp),
            now=now(),
            derive=derive,
        )

    done = _enroll(
        token, EnrollmentKind.TOTP, form, "staff/enroll.html", complete, Proof.TOTP_ENROLLMENT
    )
    if not isinstance(done, StaffAccount):
        return done  # the form again, the busy page, or too many guesses
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
    Argon2id derivations, on a slot of the staff portal's pool). The current password
    is a guess like any other: it takes a place in the account's budget, shared with
    sign-in (:mod:`.guesses`); past it, as at sign-in, two codes of the app are asked
    too (429 until they are given), and a wrong password is recorded."""
    form = PasswordChangeForm()
    me = g.staff.account
    two_codes = False
    if form.validate_on_submit():
        if form.password.data != form.password_confirm.data:
            form.password_confirm.errors = [_("The two passwords are not the same.")]
            _forget_passwords(form)
        else:
            key = account_key(me.username)
            codes = None
            if form.totp.data and form.totp_next.data:
                codes = (form.totp.data, form.totp_next.data)
            if codes is None and not has_room(key):
                return _account_page(form, me, two_codes=True), 429
            try:
                with derivations().slot(KNOWN) as run:  # signed in: not a stranger
                    place = take_place(key, force=codes is not None)
                    if place is None:
                        return _account_page(form, me, two_codes=True), 429
                    try:
                        with transaction(write=True) as writing:
                            change_password(
                                writing,
                                writing.merge(me),
                                entered(form.current),
                                entered(form.password),
                                runtime().argon2,
                                derive=run,
                                codes=codes,
                                now=now(),
                            )
                    except ServiceError as exc:
                        if exc.reason in WRONG_PASSWORD_PROOF:
                            with transaction(write=True) as writing:
                                record_proof_failure(
                                    writing, me, Proof.PASSWORD_CHANGE, through_link=False
                                )
                        else:
                            give_back(place)  # refused before any password was checked
                        _forget_passwords(form)
                        form.totp.data = form.totp_next.data = ""
                        _field_error(form, exc)
                        two_codes = codes is not None or not has_room(key)
                    else:
                        give_back(place)
                        session.clear()
                        return render_template("staff/password_changed.html")
            except Busy as busy:
                notice = _(
                    "The server is busy right now, so your password was not changed yet. "
                    "What you typed is kept: wait a minute, then send again."
                )
                return busy_page(_account_page(form, me, notice=notice), busy)
    status = 400 if request.method == "POST" else 200
    return _account_page(form, me, two_codes=two_codes), status


def _account_page(
    form: PasswordChangeForm,
    me: StaffAccount,
    notice: str | None = None,
    *,
    two_codes: bool = False,
) -> str:
    return render_template(
        "staff/account.html",
        form=form,
        me=me,
        fingerprint=display_fingerprint(me),
        notice=notice,
        two_codes=two_codes,
        **digest_context(me),
    )
