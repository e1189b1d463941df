"""What a refused person reads: every :class:`~sipadu.services.refusals.Reason` in
words, in the reader's language.

The one table of refusal messages, for both portals and the CLI (a reason only one
portal meets has that portal's words; none is worded differently per portal). Views
show :func:`message` beside the field the refusal names, or above the form; they never
look at an error's text. ``tests/test_translations.py`` checks that every reason has a
message here and an Indonesian translation of it.
"""

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from sipadu.services.refusals import Reason, ServiceError
from sipadu.web.words import CATEGORY_LABELS, ROLE_LABELS, STATUS_LABELS, category_said

MESSAGES: dict[Reason, LazyString] = {
    Reason.USERNAME_INVALID: _l("Username: 3 to 64 characters: a-z, 0-9, '.', '_' or '-'."),
    Reason.USERNAME_TAKEN: _l("The username %(name)s is taken."),
    Reason.USERNAME_NOT_RECORDABLE: _l(
        "This username looks like a network address or a report code, which the access log "
        "never records. Choose another one."
    ),
    Reason.USERNAME_RESERVED: _l(
        "The username %(name)s is reserved: the access log uses it for the server itself."
    ),
    Reason.NO_ROLE: _l("An account needs at least one role."),
    Reason.WRONG_LINK: _l("This link is for something else; ask an admin for a new one."),
    Reason.TOTP_MISMATCH: _l(
        "The code does not match. Check that the time on your phone is right."
    ),
    Reason.WRONG_PASSWORD: _l("The password is not right."),
    Reason.WRONG_CURRENT_PASSWORD: _l("The current password is not right."),
    Reason.CURRENT_PASSWORD_OR_CODES: _l(
        "The current password or one of the two codes is not right."
    ),
    # Each says why the password is easy to guess and how to choose a better one.
    Reason.PASSWORD_TOO_SHORT: _l(
        "Choose a password of at least 12 characters: four or more unrelated words are "
        "long enough and easy to remember."
    ),
    Reason.PASSWORD_TOO_COMMON: _l(
        "This password is too easy to guess: it is built on a common password, a common "
        "word or name, or a name of this office. Use four or more unrelated words, or a "
        "long random password from a password manager."
    ),
    Reason.PASSWORD_REPEATED: _l(
        "This password is too easy to guess: it repeats a character or a group of "
        "characters. Use four or more unrelated words, or a long random password from a "
        "password manager."
    ),
    Reason.PASSWORD_SEQUENCE: _l(
        "This password is too easy to guess: it is a run like 12345 or abcde, or a row "
        "of the keyboard. Use four or more unrelated words, or a long random password "
        "from a password manager."
    ),
    Reason.PASSWORD_DATE: _l(
        "This password is too easy to guess: it is built on a date or a year. Use four "
        "or more unrelated words, or a long random password from a password manager."
    ),
    Reason.PASSWORD_GUESSABLE: _l(
        "This password is too easy to guess. Use four or more unrelated words, or a long "
        "random password from a password manager."
    ),
    Reason.RESET_OWN_PASSWORD: _l("Use the password change on your own account page."),
    Reason.CANNOT_DEACTIVATE_SELF: _l("You cannot deactivate your own account."),
    Reason.CANNOT_REMOVE_OWN_ADMIN: _l("You cannot remove your own admin role."),
    Reason.DEACTIVATED: _l("%(name)s is deactivated."),
    Reason.NOT_DEACTIVATED: _l("%(name)s is not deactivated."),
    Reason.NOT_WAITING_FOR_ACTIVATION: _l("%(name)s is not waiting for activation."),
    Reason.NOT_ACTIVE_WITH_KEY: _l("%(name)s is not active or has no key yet."),
    Reason.NO_KEY_RESET_PASSWORD: _l("%(name)s has no key: reset the password instead."),
    Reason.NO_TOTP_TO_RESET: _l("%(name)s has no authenticator app to reset."),
    Reason.TOTP_RESET_NEEDS_APPROVAL: _l(
        "Resetting the authenticator app of %(name)s takes a second admin: propose it."
    ),
    Reason.NOT_AN_INVESTIGATOR: _l("%(name)s is not an investigator with a key."),
    Reason.ROLE_NEEDS_APPROVAL: _l("The role %(role)s needs a second admin's approval."),
    Reason.ROLE_NEEDS_NO_APPROVAL: _l("The role %(role)s needs no approval."),
    Reason.ALREADY_HOLDS_ROLE: _l("%(name)s already holds the role %(role)s."),
    Reason.DOES_NOT_HOLD_ROLE: _l("%(name)s does not hold the role %(role)s."),
    Reason.UNKNOWN_CATEGORY: _l("There is no category %(category)s."),
    Reason.ALREADY_RECEIVES: _l("%(name)s already receives %(category)s reports."),
    Reason.DOES_NOT_RECEIVE: _l("%(name)s does not receive %(category)s reports."),
    Reason.SAME_CHANGE_WAITING: _l("The same change is already waiting for approval."),
    Reason.NOT_WAITING_FOR_DECISION: _l("This is not waiting for a decision any more."),
    Reason.OWN_PROPOSAL: _l("A second admin must decide: you made this proposal."),
    Reason.ALREADY_APPROVED_BY_YOU: _l(
        "You already approved this change; it was made at the server and needs another admin too."
    ),
    Reason.KEY_CHANGED: _l("The account's key changed since the proposal. Propose again."),
    Reason.ALREADY_ON_HOLD: _l("This report is already on hold."),
    Reason.NOT_ON_HOLD: _l("This report is not on hold."),
    Reason.NO_SUCH_REPORT: _l("There is no report with this id."),
    Reason.REPORT_NOT_FOUND: _l("Report not found."),
    Reason.NO_SUCH_FILE: _l("There is no such file."),
    Reason.INTEGRITY_FAILED: _l(
        "This item failed its integrity check: it was changed in the database after it "
        "was written, so it is not shown."
    ),
    Reason.NO_KEY: _l("You hold no key for this part of the report."),
    Reason.CATEGORY_CLOSED: _l(
        "This kind of report is not accepted at the moment. Choose another kind."
    ),
    Reason.CODE_COLLISION: _l("The report could not be stored. Please send it again."),
    Reason.MALFORMED_CODE: _l("A report code has 16 digits. Check the code and try again."),
    Reason.BAD_PAGE_CURSOR: _l("This page link is not valid."),
    Reason.EMPTY_TEXT: _l("Write something first."),
    Reason.UNKNOWN_STATUS: _l("Unknown status."),
    Reason.BAD_TRANSITION: _l("A report cannot go from %(old)s to %(new)s."),
    Reason.CLOSING_NEEDS_REASON: _l(
        "Closing or rejecting needs a reason; the reporter will read it."
    ),
    Reason.NOT_AN_AGE_RECIPIENT: _l(
        "This is not a public key for age, the file encryption tool (such a key starts with age1)."
    ),
    Reason.PRIVATE_KEY_NOT_RECIPIENT: _l(
        "This is a private key, not a recipient: treat it as exposed, because whoever saw "
        "it can open everything encrypted to it. Its holder should make a new key with "
        "age-keygen and give only the line that starts with age1. What you pasted was not "
        "kept and is not shown again."
    ),
    Reason.NO_SUCH_RECIPIENT: _l(
        "This recipient is not registered (any more). Choose one from the list again."
    ),
    Reason.RECIPIENT_NAME_TOO_LONG: _l("Give a shorter name: at most 100 characters."),
    Reason.RECIPIENT_NAME_NOT_RECORDABLE: _l(
        "The access log never records anything that looks like a report code or an IP "
        "address, and it records this name: choose another."
    ),
    Reason.RECIPIENT_NAME_NOT_PLAIN: _l(
        "Use only Latin letters, digits, spaces and . , - ( ) & / ' in the name, so that "
        "nobody can register a look-alike of another recipient's name."
    ),
    Reason.RECIPIENT_ALREADY_REGISTERED: _l(
        "This key is already registered or proposed, as %(name)s."
    ),
    Reason.RECIPIENT_NAME_TAKEN: _l("The name %(name)s is already registered or proposed."),
    Reason.RECIPIENT_CHANGED: _l("The recipient's key changed since the proposal. Propose again."),
    Reason.NOT_CLOSED: _l("Only a closed or rejected report can be reopened."),
    Reason.REOPEN_NEEDS_REASON: _l(
        "Reopening needs a reason; the reporter will read it in the mailbox."
    ),
    Reason.LABEL_TOO_LONG: _l("A label can have at most %(max)s characters."),
    Reason.TOO_MANY_LABELS: _l("A report can have at most %(max)s labels."),
    Reason.UNKNOWN_PRIORITY: _l("Choose a priority: high, normal or low."),
    Reason.ERASE_LABELS_NOT_CONFIRMED: _l(
        "Nothing was changed: the labels field is empty, which would remove every label. "
        "Tick the box to confirm, or type the labels to keep."
    ),
    Reason.LEAD_NOT_HOLDER: _l(
        "The lead investigator must be an investigator who holds this report. Share it "
        "with them first."
    ),
    Reason.NOT_A_REPORT_ID: _l("Give the other report's id, or paste the address of its page."),
    Reason.LINK_NOT_HELD: _l(
        "You do not hold a report with this id. You can only link reports you hold both of."
    ),
    Reason.LINK_TO_ITSELF: _l("A report cannot be linked to itself."),
    Reason.ALREADY_LINKED: _l("These reports are already linked."),
    Reason.NOT_LINKED: _l("These reports are not linked."),
    Reason.TOO_MANY_LINKS: _l("A report can be linked to at most %(max)s reports."),
    Reason.UNKNOWN_LINK_KIND: _l("Choose how the reports are related."),
    Reason.LAST_HOLDER: _l(
        "You are the only investigator who holds this report: if you stepped down, "
        "nobody could work on it. Share it with a colleague first, then step down."
    ),
    Reason.NO_COLLEAGUE_CHOSEN: _l("Choose a colleague."),
    Reason.COLLEAGUE_NOT_ACTIVE: _l("That colleague is not an active staff member with a key."),
    Reason.NOT_ALLOWED_TO_SHARE: _l(
        "You are not allowed to share reports or revoke access; ask an admin."
    ),
    Reason.NO_KEY_TO_SHARE: _l("You hold no key of this report to share."),
    Reason.ALREADY_HAS_REPORT: _l("%(name)s already has this report."),
    Reason.CANNOT_REVOKE_OWN: _l("You cannot revoke your own access."),
    Reason.NO_ACCESS: _l("That colleague has no access to this report."),
    Reason.IDENTITY_REASON_MISSING: _l("Say why the identity is needed."),
    Reason.ALREADY_ASKED: _l("You already asked; a custodian has not decided yet."),
    Reason.OWN_REQUEST: _l("Another custodian must decide on your own request."),
    Reason.INVESTIGATOR_LOST_REPORT: _l("The investigator no longer has this report."),
    Reason.NO_IDENTITY_KEY: _l("You hold no identity key for this report."),
    Reason.OPERATOR_WOULD_HOLD: _l(
        "Nothing was stored: you also receive reports of this kind, and an operator must "
        "keep no way back to a report they typed in. Ask another operator to take this "
        "report in."
    ),
    # The reporter's mailbox: passphrase change and transcript (issue 18, mailbox)
    Reason.NOT_THIS_MAILBOX: _l(
        "This is not the code of the mailbox you are signed in to. Type the code of this mailbox."
    ),
    Reason.PASSPHRASE_CHANGED_MEANWHILE: _l(
        "The passphrase was changed at the same time in another window, so this change was "
        "not made. Sign in again with the passphrase you chose last."
    ),
    Reason.TRANSCRIPT_NOT_ASKED: _l("There is no typed report for you to check here."),
    Reason.NEW_CODE_FIRST: _l(
        "Take your own new report code first: the code on the slip from the counter "
        "cannot be used for this."
    ),
    Reason.TRANSCRIPT_ANSWERED: _l(
        "You already answered whether the typed report is right. To add or correct "
        "anything, send it as a message: your text is kept in the message box below."
    ),
    Reason.NOT_A_CUSTODIAN: _l("%(name)s is not a custodian."),
    Reason.ALREADY_COI_MEMBER: _l(
        "%(name)s is already in the conflict-of-interest team in this role, or proposed."
    ),
    Reason.NO_SUCH_COI_MEMBER: _l("There is no such member of the conflict-of-interest team."),
    Reason.NOT_IN_COI_GROUP: _l(
        "This report concerns staff of the Inspectorate itself: it can only be shared with "
        "an investigator of the conflict-of-interest team, and %(name)s is not one."
    ),
    # units (issue 18)
    Reason.TEXT_REQUIRED: _l("Fill this in."),
    Reason.TEXT_TOO_LONG: _l("Please shorten this to at most %(max)s characters."),
    Reason.TEXT_NOT_PLAIN: _l(
        "This holds an invisible or control character (for example one that reverses the "
        "text). Type it again as plain text."
    ),
    Reason.TEXT_NOT_RECORDABLE: _l(
        "This looks like a network address or a report code, which the access log never "
        "records. Write it another way."
    ),
    Reason.TEXT_LIKE_FORMULA: _l(
        "This begins with =, +, - or @, which a spreadsheet runs as a formula when the list "
        "is opened in one. Begin it with a letter or a digit."
    ),
    Reason.PARENT_NOT_TOP_LEVEL: _l(
        "A sub-category belongs to a category, not to another sub-category."
    ),
    Reason.CATEGORY_LABEL_TAKEN: _l(
        "Another category in the same place is already called %(label)s."
    ),
    Reason.NO_SUCH_CATEGORY: _l("This category is not there any more. Load the page again."),
    Reason.NOTHING_CHANGES: _l("Nothing would change: this is how it is now."),
    Reason.SUBCATEGORY_OF_OTHER: _l(
        "This choice does not belong to the kind of violation chosen above. Choose one under "
        "it, or “None of these / not sure”."
    ),
    Reason.UNKNOWN_UNIT_KIND: _l(
        "“%(kind)s” is not a kind of unit: write SKPD, Kota Administrasi, Kecamatan or Kelurahan."
    ),
    Reason.NO_SUCH_UNIT: _l("This unit is no longer on the list. Choose another one, or none."),
    Reason.UNIT_PARENT_WRONG: _l(
        "It cannot belong there: a kecamatan belongs to a Kota Administrasi, a kelurahan to "
        "a kecamatan, an SKPD to a Kota Administrasi or to nothing, and a Kota "
        "Administrasi to nothing."
    ),
    Reason.UNIT_PARENT_NOT_FOUND: _l(
        "There is no unit called %(name)s, here or on an earlier line."
    ),
    Reason.UNIT_PARENT_AMBIGUOUS: _l(
        "Several units are called %(name)s: rename one of them first."
    ),
    Reason.UNIT_DUPLICATE: _l("The unit %(name)s is already there (or twice in this file)."),
    Reason.IMPORT_TOO_LARGE: _l("The file is too large: at most %(max)s KB."),
    Reason.IMPORT_TOO_MANY_ROWS: _l("The file has too many lines: at most %(max)s units."),
    Reason.IMPORT_NOT_CSV: _l(
        "This is not a CSV file with the first line kind,name,parent (or jenis,nama,induk)."
    ),
    Reason.IMPORT_ROW_SHAPE: _l("This line does not have three values separated by commas."),
    Reason.IMPORT_LINE_TOO_LONG: _l(
        "Line %(line)s is longer than %(max)s characters, and a unit's name has at most "
        "%(name_max)s. "
        "Nothing was proposed; shorten that line and send again."
    ),
    Reason.IMPORT_UNREADABLE: _l(
        "The file cannot be read as CSV from line %(line)s: perhaps a quotation mark that is "
        "never closed, or an invisible character. Nothing was proposed; correct it and send "
        "again."
    ),
    Reason.IMPORT_EMPTY: _l("The file has no unit in it."),
    Reason.IMPORT_HAS_PROBLEMS: _l(
        "Nothing was proposed: %(count)s lines need correcting (below). Correct them here "
        "and send again."
    ),
    Reason.ROUTE_NEEDS_TARGET: _l("Choose a category, a unit, or both."),
    Reason.UNITS_FORM_TOO_LARGE: _l(
        "Nothing was proposed: with these units the list on the report form would take more "
        "than %(max)s KB, and the form must stay small enough to load over Tor on a slow "
        "connection. Withdraw units no longer needed, shorten long names, or offer "
        "kelurahan through their kecamatan."
    ),
    Reason.MAIL_ADDRESS_INVALID: _l(
        "Write one e-mail address like nama@jakarta.go.id: letters without accents, digits "
        "and . _ - + only, at most 254 characters."
    ),
    Reason.OPENPGP_KEY_TOO_LARGE: _l(
        "The key is larger than %(max)s KB. Export it without other people's signatures "
        "(gpg --export --export-options export-minimal --armor) and paste that."
    ),
    Reason.OPENPGP_KEY_UNREADABLE: _l(
        "This is not one OpenPGP public key. Paste the whole block, from “-----BEGIN PGP "
        "PUBLIC KEY BLOCK-----” to its END line."
    ),
    Reason.OPENPGP_KEY_SECRET: _l(
        "This is a private (secret) key: it was not stored. Paste your public key only, "
        "and keep the private key to yourself."
    ),
    Reason.OPENPGP_KEY_UNUSABLE: _l(
        "This key cannot receive encrypted messages now: it has no valid encryption subkey "
        "(it may have expired or been revoked)."
    ),
    Reason.NO_MAIL_ADDRESS: _l("Write your e-mail address first: the digest is sent to it."),
    Reason.MAIL_DOMAIN_NOT_ALLOWED: _l(
        "Give an address of the institution: only addresses at %(domains)s are taken."
    ),
    Reason.NOTHING_TO_CONFIRM: _l(
        "There is no address waiting for confirmation: it is confirmed already, or none is "
        "registered."
    ),
    Reason.CONFIRMATION_NOT_SENT: _l(
        "No code has been mailed to your address yet. It is mailed at the next run (within "
        "the hour, once the server sends e-mail); then type it here."
    ),
    Reason.CONFIRMATION_CODE_SHAPE: _l(
        "Type the %(digits)s digits of the code from the e-mail (spaces do not matter)."
    ),
    Reason.CONFIRMATION_CODE_WRONG: _l(
        "This is not the code mailed to your address. Check it and type it again: "
        "%(left)s tries left with this code."
    ),
    Reason.CONFIRMATION_CODE_SPENT: _l(
        "This code no longer works: it has expired or was typed wrong too many times. Ask "
        "for a new code with the button below."
    ),
    Reason.MONTH_NOT_OVER: _l(
        "The report for %(month)s cannot be published yet: reports may still be dated in "
        "that month. Publish it once the month is over."
    ),
    Reason.MONTH_PUBLISHED: _l(
        "The report for %(month)s is published already. To publish it again with today's "
        "figures, replace it on purpose (--replace); the replacement is recorded."
    ),
    Reason.MONTH_NOT_PUBLISHED: _l("No transparency report is published for %(month)s."),
    Reason.OPENPGP_KEY_AGAIN: _l(
        "Your OpenPGP key can no longer be read on this server either (its key was changed). "
        "Paste your public key again, or tick “Stop encrypting the digest to my OpenPGP key”."
    ),
    # Escalation by the reporter (issue 20): the reporter reads the first two.
    Reason.ESCALATION_NOT_DUE: _l(
        "Your report can be forwarded to another agency from here only once a promised "
        "date has passed without an answer. That has not happened, so no file was made. "
        "You may still report to any agency yourself."
    ),
    Reason.AGENCY_NOT_OFFERED: _l(
        "This agency is not offered here any more, so no file was made for it. Choose one "
        "of the agencies listed now."
    ),
    Reason.REPORTER_CHANNEL_INVALID: _l(
        "Give the agency's own address where reporters upload a file: it starts with "
        "https:// (or http:// for a .onion address), with a plain host name, no spaces "
        "and at most 200 characters, for example https://kws.kpk.go.id."
    ),
    Reason.REPORTER_CHANNEL_NEEDED: _l(
        "To offer this recipient to reporters, give the address where they upload the "
        "file on the agency's own site."
    ),
    Reason.RECIPIENT_OFFER_UNCHANGED: _l(
        "%(name)s is offered to reporters exactly so already: nothing to change."
    ),
    Reason.REFERRAL_EMPTY: _l(
        "The agency would receive nothing of the report: keep at least one part of the "
        "report, the messages or the files."
    ),
    Reason.REFERRAL_UNKNOWN_PART: _l("Choose what to include from the list only."),
    Reason.REFERRAL_IDENTITY_NOT_SEEN: _l(
        "The reporter's identity can be passed on only by an investigator a custodian "
        "allowed to see it. Untick it, or ask a custodian first."
    ),
    Reason.REFERRAL_NOT_OPEN: _l(
        "A closed or rejected report cannot be referred. Reopen it first, with a reason the "
        "reporter reads."
    ),
    Reason.NO_SUCH_REFERRAL: _l("This referral does not exist (any more)."),
    Reason.REFERRAL_RECIPIENT_GONE: _l(
        "The key of %(name)s is no longer in the registry (or it changed), so nothing "
        "more can be encrypted to it. Ask the admins, and refer the report again to the "
        "agency's new key."
    ),
    Reason.RESPONSE_ALREADY_RECORDED: _l(
        "The agency's response to this referral was already recorded. Add anything more "
        "as an internal note; what you typed is still here."
    ),
    Reason.NO_AGENCY_OFFERED: _l(
        "This agency is not offered here any more, and no other agency is offered now, so "
        "no file was made. You may still report to any agency yourself, on its own "
        "website or at its office."
    ),
    Reason.OFFER_NOT_SIGNABLE: _l(
        "An offer to reporters cannot be approved on this server: its approval is signed "
        "with the audit log's signing key, so that the reporters' portal can check it, "
        "and that key is kept on another server. Ask the system administrator."
    ),
}


def message(error: ServiceError) -> str:
    """The refusal in the request's language with the values it carries filled in; in
    English outside a request (the CLI). Raises ``KeyError`` for a reason missing from
    :data:`MESSAGES` (the test of this table keeps that from happening)."""
    params = {
        name: _said(name, value) if isinstance(value, str) else value
        for name, value in error.params.items()
    }
    return str(MESSAGES[error.reason]) % params


# A refusal's values that are internal (a role, a category, a status) are shown in words.
_PARAM_WORDS: dict[str, dict[str, LazyString]] = {
    "role": ROLE_LABELS,
    "category": CATEGORY_LABELS,
    "old": STATUS_LABELS,
    "new": STATUS_LABELS,
}


def _said(name: str, value: str) -> str:
    if name == "category":
        return category_said(value)
    words = _PARAM_WORDS.get(name, {}).get(value)
    return value if words is None else str(words)
