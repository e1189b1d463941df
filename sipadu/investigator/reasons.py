"""Why a staff action was refused, in the reader's language.

Services raise :class:`~sipadu.services.ServiceError` with a plain English reason (they
import no Flask and know no locale). The staff pages show it through :func:`translated`,
which matches each known reason and gives its translation, with the names it carried;
an unknown reason is shown as it is rather than hidden.
"""

import re

from flask_babel import lazy_gettext as _l

_NAME = r"(?P<name>[a-z0-9._-]+)"
_ROLE = r"(?P<role>[a-z]+)"
REASONS: list[tuple[re.Pattern[str], object]] = [
    (re.compile(p), t)
    for p, t in [
        (
            r"a second admin must decide: you made this proposal$",
            _l("A second admin must decide: you made this proposal."),
        ),
        (r"an account needs at least one role$", _l("An account needs at least one role.")),
        (
            r"another custodian must decide on your own request$",
            _l("Another custodian must decide on your own request."),
        ),
        (r"write a (message|note)$", _l("Write something first.")),
        (r"has no access to this report$", _l("That colleague has no access to this report.")),
        (
            r"not an active staff member with a key$",
            _l("That colleague is not an active staff member with a key."),
        ),
        (r"you cannot revoke your own access$", _l("You cannot revoke your own access.")),
        (r"not right$", _l("The password is not right.")),
        (r"too common, choose another$", _l("This password is too common; choose another.")),
        (r"say why the identity is needed$", _l("Say why the identity is needed.")),
        (r"not an age recipient", _l("This is not an age recipient (it starts with age1).")),
        (r"already on hold$", _l("This report is already on hold.")),
        (r"not on hold$", _l("This report is not on hold.")),
        (r"no report with this id$", _l("There is no report with this id.")),
        (
            r"key changed since the proposal",
            _l("The account's key changed since the proposal. Propose again."),
        ),
        (
            r"the investigator no longer has this report$",
            _l("The investigator no longer has this report."),
        ),
        (
            r"the same change is already waiting for approval$",
            _l("The same change is already waiting for approval."),
        ),
        (r"is not waiting for a decision$", _l("This is not waiting for a decision any more.")),
        (
            r"the code does not match",
            _l("The code does not match. Check that the time on your phone is right."),
        ),
        (
            r"use password change for your own account$",
            _l("Use the password change on your own account page."),
        ),
        (
            r"username: 3 to 64 characters",
            _l("Username: 3 to 64 characters: a-z, 0-9, '.', '_' or '-'."),
        ),
        (
            r"you already asked; a custodian has not decided yet$",
            _l("You already asked; a custodian has not decided yet."),
        ),
        (
            r"you are not allowed to (share|change who holds)",
            _l("You are not allowed to share reports or revoke access; ask an admin."),
        ),
        (r"you cannot deactivate your own account$", _l("You cannot deactivate your own account.")),
        (r"you cannot remove your own admin role$", _l("You cannot remove your own admin role.")),
        (
            r"you hold no identity key for this report$",
            _l("You hold no identity key for this report."),
        ),
        (
            r"you hold no key of this report to share$",
            _l("You hold no key of this report to share."),
        ),
        (
            rf"{_NAME} is not an investigator( with a key)?$",
            _l("%(name)s is not an investigator with a key."),
        ),
        (rf"{_NAME} already has this report$", _l("%(name)s already has this report.")),
        (r"at least (?P<count>\w+) characters$", _l("At least %(count)s characters.")),
        (
            r"this link is not an? (activation|TOTP enrollment) link$",
            _l("This link is for something else; ask an admin for a new one."),
        ),
        (
            rf"the role {_ROLE} needs a second admin's approval$",
            _l("The role %(role)s needs a second admin's approval."),
        ),
        (rf"the role {_ROLE} needs no approval$", _l("The role %(role)s needs no approval.")),
        (r"username '?(?P<name>[^' ]+)'? is taken$", _l("The username %(name)s is taken.")),
        (
            rf"{_NAME} already holds the role {_ROLE}$",
            _l("%(name)s already holds the role %(role)s."),
        ),
        (
            rf"{_NAME} does not hold the role {_ROLE}$",
            _l("%(name)s does not hold the role %(role)s."),
        ),
        (
            rf"{_NAME} already receives (?P<category>\w+) reports$",
            _l("%(name)s already receives %(category)s reports."),
        ),
        (
            rf"{_NAME} does not receive (?P<category>\w+) reports$",
            _l("%(name)s does not receive %(category)s reports."),
        ),
        (rf"{_NAME} has no TOTP to reset$", _l("%(name)s has no authenticator app to reset.")),
        (
            rf"{_NAME} has no key: reset the password instead$",
            _l("%(name)s has no key: reset the password instead."),
        ),
        (rf"{_NAME} is (already )?deactivated$", _l("%(name)s is deactivated.")),
        (
            rf"{_NAME} is not active or has no key yet$",
            _l("%(name)s is not active or has no key yet."),
        ),
        (rf"{_NAME} is not deactivated$", _l("%(name)s is not deactivated.")),
        (rf"{_NAME} is not waiting for activation$", _l("%(name)s is not waiting for activation.")),
        (
            r"a report cannot go from (?P<old>\w+) to (?P<new>\w+)$",
            _l("A report cannot go from %(old)s to %(new)s."),
        ),
        (
            r"closing or rejecting needs a reason",
            _l("Closing or rejecting needs a reason; the reporter will read it."),
        ),
        (r"unknown status", _l("Unknown status.")),
        (r"report not found$", _l("Report not found.")),
    ]
]


def translated(reason: str) -> str:
    """The reason in the reader's language (a known one), else as it was given."""
    for pattern, message in REASONS:
        found = pattern.search(reason)
        if found:
            return str(message) % found.groupdict() if found.groupdict() else str(message)
    return reason
