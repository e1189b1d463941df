"""Opening a reporter's mailbox with code and passphrase (:mod:`sipadu.services.mailbox`),
called directly: a malformed code is refused before any work; an unknown code and a
wrong passphrase cost the same derivations and give the same answer; a record made at
weaker parameters is re-hashed; failure counters name no code. Real Argon2 (cheap)."""

from dataclasses import replace

import pytest

from sipadu.crypto import Argon2Params, SecretRecord
from sipadu.persistence.models import Mailbox
from sipadu.reporter.blueprint import DECOY_LABEL, FAILURES_LABEL
from sipadu.services import Reason, mailbox
from sipadu.services.mailbox import MailboxSettings, attempt_login
from sipadu.services.passphrases import format_code
from sipadu.settings.instance import derived_key
from tests.services.helpers import CHEAP, LOOKUP_SALT, PASSPHRASE, refused, service_submit

SETTINGS = MailboxSettings(
    LOOKUP_SALT,
    CHEAP,
    CHEAP,
    failure_key=derived_key(b"s" * 32, FAILURES_LABEL),
    decoy_key=derived_key(b"s" * 32, DECOY_LABEL),
)
STRONGER = Argon2Params(time_cost=2, memory_kib=512, parallelism=1)


class Counting:
    """A ``derive`` that runs each derivation here, naming what it ran."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def __call__(self, fn, *args):
        self.ran.append(fn.__name__)
        return fn(*args)


def test_the_code_and_passphrase_open_the_mailbox_key_however_the_code_is_typed(session, recovery):
    report = service_submit(session, recovery.public_key())
    for typed in (
        report.code,
        format_code(report.code),
        "-".join(format_code(report.code).split()),
    ):
        attempt = attempt_login(session, typed, f"  {PASSPHRASE.replace(' ', '  ')}  ", SETTINGS)
        assert attempt.rehashed is None
        assert (attempt.opened.mailbox_id, attempt.opened.report_id) == (
            report.mailbox_id,
            report.report_id,
        )
        assert attempt.opened.private_key.public_key() == report.mailbox_private.public_key()


def test_an_unknown_code_and_a_wrong_passphrase_do_the_same_work_and_fail_alike(session, recovery):
    report = service_submit(session, recovery.public_key())
    unknown_code = f"{(int(report.code) + 1) % 10**16:016d}"
    outcomes = []
    for code, passphrase in ((unknown_code, PASSPHRASE), (report.code, PASSPHRASE + "x")):
        derive = Counting()
        outcomes.append(
            (attempt_login(session, code, passphrase, SETTINGS, derive=derive), derive.ran)
        )
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == (mailbox.LoginAttempt(None), ["lookup_id", "verify_secret"])


@pytest.mark.parametrize(
    "typed", ["", "123", "1" * 15, "1" * 17, "12345678901234ab", "\u0661" * 15, "\u00b9" * 16]
)
def test_a_malformed_code_is_refused_before_any_derivation(session, typed):
    derive = Counting()
    with refused(Reason.MALFORMED_CODE, "code"):
        attempt_login(session, typed, PASSPHRASE, SETTINGS, derive=derive)
    assert derive.ran == []
    assert mailbox.well_formed_code(typed) is None


def test_a_record_made_at_weaker_parameters_is_rehashed_and_keeps_the_key(session, recovery):
    report = service_submit(session, recovery.public_key())
    stronger = replace(SETTINGS, argon2=STRONGER)
    derive = Counting()

    attempt = attempt_login(session, report.code, PASSPHRASE, stronger, derive=derive)
    assert derive.ran == ["lookup_id", "verify_secret", "hash_secret"]
    mailbox.save_rehashed(session, attempt.opened, attempt.rehashed)

    row = session.get(Mailbox, report.mailbox_id)
    assert SecretRecord.from_bytes(row.secret_record).params == STRONGER
    again = attempt_login(session, report.code, PASSPHRASE, stronger)
    assert again.rehashed is None
    assert again.opened.private_key.public_key() == report.mailbox_private.public_key()


def test_a_failure_counter_is_the_same_for_a_code_and_names_no_code():
    key = SETTINGS.failure_key
    code = "0123456789012345"
    bucket = mailbox.failure_bucket(code, key)
    prefix, tag, number = bucket.split("-")
    assert prefix == "mailbox" and len(tag) == 8 and len(number) == 5
    assert int(number, 16) < 2**mailbox.BUCKET_BITS
    assert code not in bucket and mailbox.failure_bucket(code, key) == bucket
    other_instance = derived_key(b"t" * 32, FAILURES_LABEL)
    assert len(other_instance) == 32 and other_instance != key
    assert mailbox.failure_bucket(code, other_instance).split("-")[1] != tag
    spread = {mailbox.failure_bucket(f"{n:016d}", key) for n in range(200)}
    assert len(spread) > 190  # codes spread over the counters


def test_a_rehashed_record_hides_its_bytes_in_repr():
    rehashed = mailbox.Rehashed(b"secret-record", b"sealed-key")
    assert "secret-record" not in repr(rehashed) and "sealed-key" not in repr(rehashed)


class Recording(Counting):
    """A ``derive`` that also keeps the parameters each mailbox-key derivation ran at."""

    def __init__(self) -> None:
        super().__init__()
        self.params: list[Argon2Params] = []

    def __call__(self, fn, *args):
        if fn.__name__ == "verify_secret":
            self.params.append(args[1].params)
        return super().__call__(fn, *args)


def test_after_costs_are_raised_an_unknown_code_costs_what_a_live_code_costs(session, recovery):
    """Issue 15, item 11: once the Argon2 parameters were raised, a live record keeps
    its old cost until its holder signs in, while the decoy for an unknown code ran at
    the new cost (470 ms against 292 ms): timing told a live code from an unknown one.
    Now each unknown code is mapped, by a keyed hash, to one of the parameter sets live
    records have, in proportion to how many have each."""
    reports = [service_submit(session, recovery.public_key()) for _ in range(4)]
    stronger = replace(SETTINGS, argon2=STRONGER)
    first = attempt_login(session, reports[0].code, PASSPHRASE, stronger)
    mailbox.save_rehashed(session, first.opened, first.rehashed)  # 3 at CHEAP, 1 at STRONGER
    session.flush()
    assert mailbox.live_costs(session) == mailbox.CostMix(((CHEAP, 3), (STRONGER, 1)))

    live = {report.code for report in reports}
    unknown = [f"{n * 7919 + 13:016d}" for n in range(400)]
    assert not live & set(unknown)
    chosen = {}
    for code in unknown:
        derive = Recording()
        assert attempt_login(session, code, PASSPHRASE, stronger, derive=derive).opened is None
        chosen[code] = derive.params[0]
    assert set(chosen.values()) <= {CHEAP, STRONGER}
    share = sum(params == CHEAP for params in chosen.values()) / len(chosen)
    assert 0.6 < share < 0.9, share  # 3 of 4 live records are at CHEAP
    for code in unknown[:40]:  # the same code always costs the same
        derive = Recording()
        attempt_login(session, code, PASSPHRASE, stronger, derive=derive)
        assert derive.params == [chosen[code]]
    for report in reports[1:]:  # a wrong passphrase runs at the record's own cost
        derive = Recording()
        attempt_login(session, report.code, PASSPHRASE + "x", stronger, derive=derive)
        assert derive.params == [CHEAP]


def test_the_decoy_cost_is_keyed_and_follows_the_mix():
    mix = mailbox.CostMix(((CHEAP, 1), (STRONGER, 1)))
    codes = [f"{n:016d}" for n in range(300)]
    ours = [mailbox.decoy_params(code, SETTINGS.decoy_key, mix, STRONGER) for code in codes]
    other = [mailbox.decoy_params(code, bytes(32), mix, STRONGER) for code in codes]
    assert ours != other  # nobody without the instance's key can tell which codes are slow
    assert 0.35 < ours.count(CHEAP) / len(codes) < 0.65
    assert mailbox.decoy_params(codes[0], SETTINGS.decoy_key, mailbox.CostMix(), STRONGER) == (
        STRONGER
    )  # no mailbox yet: today's parameters
    only_old = mailbox.CostMix(((CHEAP, 5),))
    assert {mailbox.decoy_params(c, SETTINGS.decoy_key, only_old, STRONGER) for c in codes} == {
        CHEAP
    }
