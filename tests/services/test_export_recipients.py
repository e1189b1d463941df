"""The registry of export recipients (:mod:`sipadu.services.export_recipients`), called
directly, with its two-person proposals (:mod:`sipadu.services.proposals`): only an age
X25519 recipient, as pyrage reads it, in its canonical form; the fingerprint is the
SHA-256 of that string, as ``sha256sum`` would print it; a recipient is offered only
once a second admin approved it, and taken off only the same way; no key or name twice.
Real keys, a real database, rolled back after each test."""

import hashlib
import uuid
from datetime import UTC, datetime

import pyrage
import pytest

from sipadu.persistence.models import ExportRecipient, ProposalKind, RecipientState, Role
from sipadu.services import Reason, proposals
from sipadu.services.export_recipients import (
    NAME_MAX,
    age_recipient,
    canonical_recipient,
    checked_name,
    display_fingerprint,
    in_use,
    intact,
    is_private_key,
    recipient_fingerprint,
    registered,
    registered_recipient,
    same_name,
    short_fingerprint,
    stored_fingerprint,
)
from tests.services.helpers import Recorded, ServicePerson, person, refused

NOW = datetime.now(UTC)


def new_recipient() -> str:
    return str(pyrage.x25519.Identity.generate().to_public())


@pytest.fixture
def admins(session) -> tuple[ServicePerson, ServicePerson]:
    return person(session, "admin.ekspor", Role.ADMIN), person(session, "admin.kedua", Role.ADMIN)


def approved(session, admins, name: str, recipient: str) -> ExportRecipient:
    proposer, approver = admins
    proposal = proposals.propose_recipient(session, name, recipient, proposer.actor())
    proposals.approve(session, proposal.id, approver.actor(), NOW)
    return session.get(ExportRecipient, proposal.recipient_id)


# --- what a recipient is ------------------------------------------------------------


def test_a_recipient_is_kept_as_age_writes_it():
    recipient = new_recipient()
    assert recipient.startswith("age1") and len(recipient) == 62 and recipient == recipient.lower()
    assert canonical_recipient(f" \t{recipient}\n") == recipient
    assert canonical_recipient(recipient.upper()) == recipient  # Bech32: one case, either
    assert str(age_recipient(recipient)) == recipient


@pytest.mark.parametrize(
    "wrong",
    [
        "",
        "age1",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz",
        "age1 qqqq",
    ],
)
def test_anything_but_an_age_recipient_is_refused(wrong):
    with refused(Reason.NOT_AN_AGE_RECIPIENT, "recipient"):
        canonical_recipient(wrong)


def test_an_identity_a_typo_or_mixed_case_is_refused():
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    typo = recipient[:-1] + ("q" if recipient[-1] != "q" else "p")  # the checksum fails
    mixed = recipient[:10].upper() + recipient[10:]  # Bech32 forbids mixing cases
    for wrong in (typo, mixed):
        with refused(Reason.NOT_AN_AGE_RECIPIENT, "recipient"):
            recipient_fingerprint(wrong)
    with refused(Reason.PRIVATE_KEY_NOT_RECIPIENT, "recipient"):  # said as such, never shown
        recipient_fingerprint(str(identity))


def test_the_fingerprint_is_the_sha256_of_the_canonical_string_in_groups():
    recipient = new_recipient()
    digest = hashlib.sha256(recipient.encode("ascii")).hexdigest()
    assert recipient_fingerprint(recipient) == digest
    assert recipient_fingerprint(f"  {recipient.upper()} ") == digest
    assert recipient_fingerprint(new_recipient()) != digest
    groups = display_fingerprint(recipient).split(" ")
    assert len(groups) == 16 and all(len(g) == 4 for g in groups)
    assert "".join(groups) == digest.upper()
    assert short_fingerprint(recipient) == " ".join(groups[:4])


def test_a_name_is_trimmed_and_bounded():
    assert checked_name("  Arsip \n  Inspektorat\t") == "Arsip Inspektorat"
    assert checked_name("x" * NAME_MAX) == "x" * NAME_MAX
    with refused(Reason.RECIPIENT_NAME_TOO_LONG, "name"):
        checked_name("x" * (NAME_MAX + 1))
    for empty in ("", "  \n\t "):
        with refused(Reason.EMPTY_TEXT, "name"):
            checked_name(empty)


@pytest.mark.parametrize("name", ["Arsip 10.0.0.1", "Kantor 1234 5678 9012 3456"])
def test_a_name_the_access_log_would_refuse_is_refused_before_anything_is_stored(
    session, admins, name
):
    """The name is recorded (``proposal.create``, ``export_recipient.add``,
    ``report.export``), and the log takes nothing that looks like a report code or an IP
    address: such a name raised the log's own error (a 500 page), after the row was
    added. It is a refusal of the name, as any other."""
    with refused(Reason.RECIPIENT_NAME_NOT_RECORDABLE, "name"):
        checked_name(name)
    log = Recorded(session)
    with refused(Reason.RECIPIENT_NAME_NOT_RECORDABLE, "name"):
        proposals.propose_recipient(session, name, new_recipient(), admins[0].actor())
    assert log.actions() == [] and in_use(session) == []
    assert checked_name("BPKP 2024 Perwakilan 12") == "BPKP 2024 Perwakilan 12"


# --- the two-person rule ------------------------------------------------------------


def test_a_recipient_is_offered_only_once_a_second_admin_approves(session, admins):
    proposer, approver = admins
    recipient = new_recipient()
    log = Recorded(session)

    proposal = proposals.propose_recipient(session, " KPK ", f" {recipient} ", proposer.actor())

    row = session.get(ExportRecipient, proposal.recipient_id)
    assert (row.name, row.recipient, row.state) == ("KPK", recipient, RecipientState.PROPOSED)
    assert proposal.kind == ProposalKind.RECIPIENT_ADD
    assert proposal.fingerprint == recipient_fingerprint(recipient)
    assert row not in registered(session) and row in in_use(session)
    with refused(Reason.NO_SUCH_RECIPIENT, "to"):
        registered_recipient(session, row.id)
    with refused(Reason.OWN_PROPOSAL):
        proposals.approve(session, proposal.id, proposer.actor(), NOW)
    assert row.state == RecipientState.PROPOSED

    proposals.approve(session, proposal.id, approver.actor(), NOW)

    assert row.state == RecipientState.ACTIVE
    assert registered(session) == [row] and registered_recipient(session, row.id) is row
    assert log.actions() == ["proposal.create", "proposal.approve", "export_recipient.add"]
    created, _approval, added = log.entries()
    expected = {"recipient": "KPK", "fingerprint": recipient_fingerprint(recipient)}
    assert created["actor"] == str(proposer.id)
    assert created["detail"] == {
        "proposal": str(proposal.id),
        "kind": "recipient_add",
        **expected,
    }
    assert (added["actor"], added["detail"]) == (str(approver.id), expected)


def test_a_rejected_recipient_is_never_offered_and_frees_its_key_and_name(session, admins):
    proposer, decider = admins
    recipient = new_recipient()
    proposal = proposals.propose_recipient(session, "BPKP", recipient, proposer.actor())
    row = session.get(ExportRecipient, proposal.recipient_id)

    proposals.reject(session, proposal.id, decider.actor(), NOW)

    assert row.state == RecipientState.REJECTED
    assert registered(session) == [] and in_use(session) == []
    with refused(Reason.NO_SUCH_RECIPIENT, "to"):
        registered_recipient(session, row.id)
    with refused(Reason.NOT_WAITING_FOR_DECISION):
        proposals.approve(session, proposal.id, decider.actor(), NOW)
    again = proposals.propose_recipient(session, "BPKP", recipient, decider.actor())
    assert again.recipient_id != row.id


def test_removal_takes_two_admins_and_then_the_recipient_is_refused(session, admins):
    proposer, approver = admins
    row = approved(session, admins, "Arsip", new_recipient())
    log = Recorded(session)

    removal = proposals.propose_recipient_removal(session, row.id, approver.actor())

    assert removal.kind == ProposalKind.RECIPIENT_REMOVE
    assert removal.fingerprint == recipient_fingerprint(row.recipient)
    assert registered_recipient(session, row.id) is row  # still offered until approved
    with refused(Reason.SAME_CHANGE_WAITING):
        proposals.propose_recipient_removal(session, row.id, proposer.actor())
    with refused(Reason.OWN_PROPOSAL):
        proposals.approve(session, removal.id, approver.actor(), NOW)

    proposals.approve(session, removal.id, proposer.actor(), NOW)

    assert row.state == RecipientState.REMOVED and registered(session) == []
    with refused(Reason.NO_SUCH_RECIPIENT, "to"):
        registered_recipient(session, row.id)
    with refused(Reason.NO_SUCH_RECIPIENT):
        proposals.propose_recipient_removal(session, row.id, proposer.actor())
    assert log.actions() == [
        "proposal.create",
        "proposal.approve",
        "export_recipient.remove",
    ]
    assert log.entries()[-1]["detail"] == {
        "recipient": "Arsip",
        "fingerprint": recipient_fingerprint(row.recipient),
    }


def test_a_rejected_removal_keeps_the_recipient(session, admins):
    proposer, decider = admins
    row = approved(session, admins, "Arsip", new_recipient())
    removal = proposals.propose_recipient_removal(session, row.id, proposer.actor())
    proposals.reject(session, removal.id, decider.actor(), NOW)
    assert row.state == RecipientState.ACTIVE and registered(session) == [row]


def test_only_a_proposed_recipient_can_be_removed_and_unknown_ids_are_refused(session, admins):
    proposer, _ = admins
    proposal = proposals.propose_recipient(session, "Usulan", new_recipient(), proposer.actor())
    for recipient_id in (proposal.recipient_id, uuid.uuid4()):
        with refused(Reason.NO_SUCH_RECIPIENT):
            proposals.propose_recipient_removal(session, recipient_id, proposer.actor())
    with refused(Reason.NO_SUCH_RECIPIENT, "to"):
        registered_recipient(session, uuid.uuid4())


def test_no_key_or_name_twice_among_registered_and_proposed(session, admins):
    proposer, other = admins
    first, second = new_recipient(), new_recipient()
    approved(session, admins, "KPK", first)
    proposals.propose_recipient(session, "BPKP", second, proposer.actor())
    log = Recorded(session)

    for name, key in (("Lain", first), ("Lain", second)):
        with refused(Reason.RECIPIENT_ALREADY_REGISTERED, "recipient"):
            proposals.propose_recipient(session, name, key.upper(), other.actor())
    for name in ("kpk", " BPKP "):
        with refused(Reason.RECIPIENT_NAME_TAKEN, "name") as info:
            proposals.propose_recipient(session, name, new_recipient(), other.actor())
        assert info.value.params == {"name": name.strip().upper()}
    with refused(Reason.NOT_AN_AGE_RECIPIENT, "recipient"):
        proposals.propose_recipient(session, "Salah", "age1salah", other.actor())
    with refused(Reason.EMPTY_TEXT, "name"):
        proposals.propose_recipient(session, " ", new_recipient(), other.actor())

    assert log.actions() == []  # nothing proposed...
    assert {row.name for row in in_use(session)} == {"KPK", "BPKP"}  # ...nor stored


def test_a_removed_recipient_may_be_registered_again(session, admins):
    proposer, approver = admins
    recipient = new_recipient()
    row = approved(session, admins, "Arsip", recipient)
    removal = proposals.propose_recipient_removal(session, row.id, proposer.actor())
    proposals.approve(session, removal.id, approver.actor(), NOW)

    again = approved(session, admins, "Arsip", recipient)

    assert again.id != row.id and registered(session) == [again]


def test_a_key_changed_in_the_database_cannot_be_approved(session, admins):
    """The approver vouches for the fingerprint the proposer read out: a row rewritten
    in between is refused, and still offered nowhere."""
    proposer, approver = admins
    proposal = proposals.propose_recipient(session, "KPK", new_recipient(), proposer.actor())
    row = session.get(ExportRecipient, proposal.recipient_id)
    row.recipient = new_recipient()

    with refused(Reason.RECIPIENT_CHANGED):
        proposals.approve(session, proposal.id, approver.actor(), NOW)

    assert row.state == RecipientState.PROPOSED and registered(session) == []
    proposals.reject(session, proposal.id, approver.actor(), NOW)  # rejecting still works
    assert row.state == RecipientState.REJECTED


def test_registered_recipients_are_listed_by_name(session, admins):
    names = ["Zeta", "Arsip", "KPK"]
    for name in names:
        approved(session, admins, name, new_recipient())
    assert [row.name for row in registered(session)] == sorted(names)


# --- from the review of issue 17 ----------------------------------------


IDENTITY = pyrage.x25519.Identity.generate()
RECIPIENT = str(IDENTITY.to_public())


@pytest.mark.parametrize(
    "pasted",
    [
        str(IDENTITY),
        "  " + str(IDENTITY).lower() + "\n",
        "# created: 2026\n# public key: " + RECIPIENT + "\n" + str(IDENTITY),  # the whole file
        "AGE-PLUGIN-YUBIKEY-1QQQ",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
    ],
    # Named, not shown: the key is new in each process (pytest-xdist's workers must
    # collect the same test names).
    ids=["age-key", "age-key-lower-case", "age-key-file", "age-plugin", "ssh-key"],
)
def test_a_private_key_is_recognised_and_refused_as_such(pasted):
    assert is_private_key(pasted)
    with refused(Reason.PRIVATE_KEY_NOT_RECIPIENT, "recipient"):
        canonical_recipient(pasted)


def test_a_public_recipient_or_a_typo_is_not_a_private_key():
    assert not is_private_key(RECIPIENT) and not is_private_key("") and not is_private_key(None)
    with refused(Reason.NOT_AN_AGE_RECIPIENT, "recipient"):
        canonical_recipient("age1typo")


@pytest.mark.parametrize(
    "name",
    ["KPK\u200b", "K\u0420K", "\u202eKPK", "\u3164", "KPK\u00ad", "K\u200dPK", "KPK\x07"],
)
def test_names_with_invisible_bidi_or_other_script_characters_are_refused(name):
    with refused(Reason.RECIPIENT_NAME_NOT_PLAIN, "name"):
        checked_name(name)


def test_plain_names_are_kept_in_nfkc_with_spaces_collapsed():
    assert checked_name("  Arsip   Inspektorat Kota (BPKP) & KPK-2/3, Jl. O'Neil ") == (
        "Arsip Inspektorat Kota (BPKP) & KPK-2/3, Jl. O'Neil"
    )
    assert checked_name("\uff2b\uff30\uff2b") == "KPK"  # full-width: NFKC makes them plain
    assert checked_name("Bagian Pengawasan Müller") == "Bagian Pengawasan Müller"
    with refused(Reason.EMPTY_TEXT, "name"):
        checked_name(" \t ")
    with refused(Reason.RECIPIENT_NAME_TOO_LONG, "name"):
        checked_name("K" * 101)


def test_names_are_the_same_after_nfkc_and_case_folding():
    assert same_name("KPK", "kpk") and same_name("Arsip  Kota", "ARSIP KOTA")
    assert same_name("\uff2b\uff50\uff4b", "KPK") and same_name("Strasse", "STRAßE")
    assert not same_name("KPK", "BPKP")


def test_a_changed_row_has_a_fingerprint_of_what_it_stores():
    assert intact(RECIPIENT) and not intact("garbage-not-age") and not intact(RECIPIENT.upper())
    assert stored_fingerprint(RECIPIENT) == hashlib.sha256(RECIPIENT.encode()).hexdigest()
    assert stored_fingerprint("garbage") == hashlib.sha256(b"garbage").hexdigest()
    assert len(display_fingerprint("garbage\udc80").split(" ")) == 16  # never raises
