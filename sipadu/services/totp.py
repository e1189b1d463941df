"""Time-based one-time codes (RFC 6238 via pyotp) that count once.

A code is accepted for the current 30-second step or the one before or after (clock
drift), and only if its step is later than the last one accepted for the account: a
code seen over a shoulder or replayed from a proxy log is refused.

After many failed sign-ins for a username, sign-in asks for two codes of consecutive
steps (:func:`matching_pair`: the code shown now, then the next one), the
resynchronisation idea of RFC 4226 §7.4. The holder of the app only waits for the next
code; a guess of both succeeds with probability about 2 in 10**12 per attempt.
"""

import io
from datetime import datetime

import pyotp
import segno

ISSUER = "SIPADU"
STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def _valid_steps(now: datetime, last_step: int) -> range:
    current = int(now.timestamp()) // STEP_SECONDS
    return range(max(current - DRIFT_STEPS, last_step + 1), current + DRIFT_STEPS + 1)


def _clean(code: str) -> str | None:
    code = "".join(code.split())
    return code if len(code) == 6 and code.isascii() and code.isdigit() else None


def matching_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and newer than ``last_step``."""
    cleaned = _clean(code)
    if cleaned is None:
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    for step in _valid_steps(now, last_step):
        if pyotp.utils.strings_equal(totp.generate_otp(step), cleaned):
            return step
    return None


def matching_pair(
    secret: str, first: str, second: str, now: datetime, last_step: int
) -> tuple[int, int] | None:
    """The steps ``(s, s + 1)`` of two codes of consecutive steps, both valid now and
    newer than ``last_step``; else None. Sign-in then records ``s + 1`` as the last
    step used, so neither code can be used again."""
    first_code, second_code = _clean(first), _clean(second)
    if first_code is None or second_code is None:
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    steps = _valid_steps(now, last_step)
    for step in steps:
        if (
            step + 1 in steps
            and pyotp.utils.strings_equal(totp.generate_otp(step), first_code)
            and pyotp.utils.strings_equal(totp.generate_otp(step + 1), second_code)
        ):
            return step, step + 1
    return None


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """The enrollment QR code as inline SVG, drawn here: the secret never goes to a
    third-party QR service, and no script is needed to show it."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True)
    return out.getvalue().decode("utf-8")
