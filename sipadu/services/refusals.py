"""Why a use case refused: a :class:`Reason`, the form field it concerns, and the values
its message names.

Services know no locale and no Flask, so they never write the words a person reads:
they raise :class:`ServiceError` with a reason, and the portals (and the CLI) show it
through :func:`sipadu.web.refusal_messages.message`, one table of translated messages
with a test that every reason is in it, in English and Bahasa Indonesia. A new refusal
is a new member here and a new line there.
"""

import enum


class Reason(enum.Enum):
    """What went wrong. The comment after a member names the values its message takes
    (``name``: a username, ``role``, ``category``: a slug, ``old``/``new``: statuses,
    ``max``: a limit)."""

    # Accounts, sign-in and one-time links
    USERNAME_INVALID = enum.auto()
    USERNAME_TAKEN = enum.auto()  # name
    USERNAME_RESERVED = enum.auto()  # name
    USERNAME_NOT_RECORDABLE = enum.auto()  # like an IP address or a report code
    NO_ROLE = enum.auto()
    WRONG_LINK = enum.auto()  # an activation link used to enroll TOTP, or the reverse
    TOTP_MISMATCH = enum.auto()
    WRONG_PASSWORD = enum.auto()
    WRONG_CURRENT_PASSWORD = enum.auto()
    # Over the account's guess budget, a password change also takes two codes; which of
    # them was wrong is not said.
    CURRENT_PASSWORD_OR_CODES = enum.auto()
    PASSWORD_TOO_SHORT = enum.auto()
    PASSWORD_TOO_COMMON = enum.auto()  # a common password, word or name (zxcvbn)
    PASSWORD_REPEATED = enum.auto()
    PASSWORD_SEQUENCE = enum.auto()
    PASSWORD_DATE = enum.auto()
    PASSWORD_GUESSABLE = enum.auto()
    RESET_OWN_PASSWORD = enum.auto()
    CANNOT_DEACTIVATE_SELF = enum.auto()
    CANNOT_REMOVE_OWN_ADMIN = enum.auto()
    DEACTIVATED = enum.auto()  # name
    NOT_DEACTIVATED = enum.auto()  # name
    NOT_WAITING_FOR_ACTIVATION = enum.auto()  # name
    NOT_ACTIVE_WITH_KEY = enum.auto()  # name
    NO_KEY_RESET_PASSWORD = enum.auto()  # name
    NO_TOTP_TO_RESET = enum.auto()  # name
    TOTP_RESET_NEEDS_APPROVAL = enum.auto()  # name
    NOT_AN_INVESTIGATOR = enum.auto()  # name
    # Roles, routing and the two-person rule
    ROLE_NEEDS_APPROVAL = enum.auto()  # role
    ROLE_NEEDS_NO_APPROVAL = enum.auto()  # role
    ALREADY_HOLDS_ROLE = enum.auto()  # name, role
    DOES_NOT_HOLD_ROLE = enum.auto()  # name, role
    UNKNOWN_CATEGORY = enum.auto()  # category
    ALREADY_RECEIVES = enum.auto()  # name, category
    DOES_NOT_RECEIVE = enum.auto()  # name, category
    SAME_CHANGE_WAITING = enum.auto()
    NOT_WAITING_FOR_DECISION = enum.auto()
    OWN_PROPOSAL = enum.auto()
    ALREADY_APPROVED_BY_YOU = enum.auto()  # a shell's proposal needs two distinct admins
    KEY_CHANGED = enum.auto()
    ALREADY_ON_HOLD = enum.auto()
    NOT_ON_HOLD = enum.auto()
    # Reports and casework
    NO_SUCH_REPORT = enum.auto()  # a report id typed by an admin, or given to the CLI
    REPORT_NOT_FOUND = enum.auto()  # no grant, or gone: callers answer 404
    NO_SUCH_FILE = enum.auto()
    INTEGRITY_FAILED = enum.auto()  # a sealed row did not open with its own metadata
    NO_KEY = enum.auto()  # the recipient holds no key of that purpose and epoch
    CATEGORY_CLOSED = enum.auto()
    CODE_COLLISION = enum.auto()
    MALFORMED_CODE = enum.auto()
    BAD_PAGE_CURSOR = enum.auto()
    EMPTY_TEXT = enum.auto()
    UNKNOWN_STATUS = enum.auto()
    BAD_TRANSITION = enum.auto()  # old, new
    CLOSING_NEEDS_REASON = enum.auto()
    NOT_AN_AGE_RECIPIENT = enum.auto()
    PRIVATE_KEY_NOT_RECIPIENT = enum.auto()  # an age identity (AGE-SECRET-KEY-…) or PEM key
    # The registry of export recipients
    NO_SUCH_RECIPIENT = enum.auto()  # not registered (or no longer): the form is stale
    RECIPIENT_NAME_TOO_LONG = enum.auto()  # longer than 100 characters
    RECIPIENT_NAME_NOT_RECORDABLE = enum.auto()  # looks like a report code or an IP address
    RECIPIENT_NAME_NOT_PLAIN = enum.auto()  # beyond Latin letters, digits, punctuation
    RECIPIENT_ALREADY_REGISTERED = enum.auto()  # name: who holds the same key
    RECIPIENT_NAME_TAKEN = enum.auto()  # name
    RECIPIENT_CHANGED = enum.auto()  # its key is not the one the proposal pinned
    NOT_CLOSED = enum.auto()  # only a closed or rejected report is reopened
    REOPEN_NEEDS_REASON = enum.auto()
    # The case record: labels, priority, lead, links (issue 17)
    LABEL_TOO_LONG = enum.auto()  # max
    TOO_MANY_LABELS = enum.auto()  # max
    UNKNOWN_PRIORITY = enum.auto()
    ERASE_LABELS_NOT_CONFIRMED = enum.auto()  # an empty field, unconfirmed, erases nothing
    LEAD_NOT_HOLDER = enum.auto()  # an account that does not hold the report
    NOT_A_REPORT_ID = enum.auto()  # what was typed holds no report id
    LINK_NOT_HELD = enum.auto()  # no grant on the other report (or none such: not said)
    LINK_TO_ITSELF = enum.auto()
    ALREADY_LINKED = enum.auto()
    NOT_LINKED = enum.auto()
    TOO_MANY_LINKS = enum.auto()  # max
    UNKNOWN_LINK_KIND = enum.auto()
    LAST_HOLDER = enum.auto()  # recusing would leave the report with no investigator
    # Sharing and the identity
    NO_COLLEAGUE_CHOSEN = enum.auto()
    COLLEAGUE_NOT_ACTIVE = enum.auto()
    NOT_ALLOWED_TO_SHARE = enum.auto()
    NO_KEY_TO_SHARE = enum.auto()
    ALREADY_HAS_REPORT = enum.auto()  # name
    CANNOT_REVOKE_OWN = enum.auto()
    NO_ACCESS = enum.auto()
    IDENTITY_REASON_MISSING = enum.auto()
    ALREADY_ASKED = enum.auto()
    OWN_REQUEST = enum.auto()
    INVESTIGATOR_LOST_REPORT = enum.auto()
    NO_IDENTITY_KEY = enum.auto()
    # intake (issue 18): the operator would hold the report they typed (they are also an
    # investigator it is routed to, or a custodian): another operator must take it in.
    OPERATOR_WOULD_HOLD = enum.auto()
    # The reporter's mailbox: passphrase change and transcript (issue 18, mailbox)
    NOT_THIS_MAILBOX = enum.auto()  # the code given is not the signed-in mailbox's
    PASSPHRASE_CHANGED_MEANWHILE = enum.auto()  # another change replaced the record first
    TRANSCRIPT_NOT_ASKED = enum.auto()  # a web report, or its transcript does not open
    TRANSCRIPT_ANSWERED = enum.auto()  # answered already, the other way
    NEW_CODE_FIRST = enum.auto()  # a typed report's slip code not yet replaced (mailbox rekey)
    # coi (issue 18)
    NOT_A_CUSTODIAN = enum.auto()  # name
    ALREADY_COI_MEMBER = enum.auto()  # name
    NO_SUCH_COI_MEMBER = enum.auto()
    NOT_IN_COI_GROUP = enum.auto()  # name
    # units (issue 18): configured categories, sub-categories and reported units
    TEXT_REQUIRED = enum.auto()
    TEXT_TOO_LONG = enum.auto()  # max
    TEXT_NOT_PLAIN = enum.auto()  # a control, format or private-use character
    TEXT_NOT_RECORDABLE = enum.auto()  # a name like an IP address or a report code
    TEXT_LIKE_FORMULA = enum.auto()  # begins with = + - @: a spreadsheet formula
    PARENT_NOT_TOP_LEVEL = enum.auto()  # a sub-category's parent must be a category
    CATEGORY_LABEL_TAKEN = enum.auto()  # label: another category is worded the same
    NO_SUCH_CATEGORY = enum.auto()  # a category id that is not there (a stale form)
    NOTHING_CHANGES = enum.auto()  # a proposed change equal to what is there
    SUBCATEGORY_OF_OTHER = enum.auto()  # a sub-category chosen under another category
    UNKNOWN_UNIT_KIND = enum.auto()  # kind: as typed
    NO_SUCH_UNIT = enum.auto()  # a unit id that is not there, or closed (a stale form)
    UNIT_PARENT_WRONG = enum.auto()  # kind: the unit's; the parent is not of a kind it goes under
    UNIT_PARENT_NOT_FOUND = enum.auto()  # name: the parent named in a file
    UNIT_PARENT_AMBIGUOUS = enum.auto()  # name: several units carry that name
    UNIT_DUPLICATE = enum.auto()  # name: the same unit is there already (or twice in the file)
    IMPORT_TOO_LARGE = enum.auto()  # max: kilobytes
    IMPORT_TOO_MANY_ROWS = enum.auto()  # max
    IMPORT_NOT_CSV = enum.auto()  # not UTF-8 text, or no header kind,name,parent
    IMPORT_ROW_SHAPE = enum.auto()  # a row without exactly three values
    IMPORT_LINE_TOO_LONG = enum.auto()  # line, max: characters
    IMPORT_UNREADABLE = enum.auto()  # line: not CSV from there (a quote not closed, a NUL)
    IMPORT_EMPTY = enum.auto()
    IMPORT_HAS_PROBLEMS = enum.auto()  # count: rows refused (each said on its own)
    ROUTE_NEEDS_TARGET = enum.auto()  # neither a category nor a unit chosen
    UNITS_FORM_TOO_LARGE = enum.auto()  # max: KB the report form's unit list may take
    # The daily digest's address and key (issue 19)
    MAIL_ADDRESS_INVALID = enum.auto()
    OPENPGP_KEY_TOO_LARGE = enum.auto()  # max: KB
    OPENPGP_KEY_UNREADABLE = enum.auto()  # not one OpenPGP certificate
    OPENPGP_KEY_SECRET = enum.auto()  # a secret (private) key was pasted
    OPENPGP_KEY_UNUSABLE = enum.auto()  # no valid encryption key: expired, revoked
    NO_MAIL_ADDRESS = enum.auto()  # a key or a choice without an address
    # The public transparency report (issue 19)
    MONTH_NOT_OVER = enum.auto()  # month: reports may still be dated in it
    MONTH_PUBLISHED = enum.auto()  # month: published already (replace it on purpose)
    MONTH_NOT_PUBLISHED = enum.auto()  # month
    OPENPGP_KEY_AGAIN = enum.auto()  # the stored key no longer opens: give it again or drop it
    # The digest address's confirmation (issue 19, review)
    MAIL_DOMAIN_NOT_ALLOWED = enum.auto()  # domains: the institution's, "a, b"
    NOTHING_TO_CONFIRM = enum.auto()  # no address registered, or it is confirmed already
    CONFIRMATION_NOT_SENT = enum.auto()  # no code mailed yet (the next run sends one)
    CONFIRMATION_CODE_SHAPE = enum.auto()  # digits: not that many digits
    CONFIRMATION_CODE_WRONG = enum.auto()  # left: tries left with this code
    CONFIRMATION_CODE_SPENT = enum.auto()  # expired, or no tries left: ask for a new one
    # Escalation by the reporter (issue 20, item 3)
    ESCALATION_NOT_DUE = enum.auto()  # no deadline of the report has passed unmet
    AGENCY_NOT_OFFERED = enum.auto()  # not (or no longer) offered to reporters, or no such id
    REPORTER_CHANNEL_INVALID = enum.auto()  # not an https:// or http://….onion address
    REPORTER_CHANNEL_NEEDED = enum.auto()  # offered to reporters without an upload address
    RECIPIENT_OFFER_UNCHANGED = enum.auto()  # name: the recipient is offered so already
    # Referral (issue 20)
    REFERRAL_EMPTY = enum.auto()  # the profile leaves no field, message or file
    REFERRAL_UNKNOWN_PART = enum.auto()  # a profile names a part that does not exist
    REFERRAL_IDENTITY_NOT_SEEN = enum.auto()  # identity asked for by who may not see it
    REFERRAL_NOT_OPEN = enum.auto()  # closed or rejected: reopen it first
    NO_SUCH_REFERRAL = enum.auto()
    REFERRAL_RECIPIENT_GONE = enum.auto()  # name: the agency's key left the registry
    RESPONSE_ALREADY_RECORDED = enum.auto()
    # said by the mailbox for a refused choice (AGENCY_NOT_OFFERED, or none made) when no
    # agency is offered any more, so that the choice's form is not drawn again
    NO_AGENCY_OFFERED = enum.auto()
    OFFER_NOT_SIGNABLE = enum.auto()  # an offer's approval, without the audit signing key


class ServiceError(Exception):
    """A use case refused its input, and changed nothing the caller should keep (roll
    back). ``field`` is the name of the form field the refusal concerns (``None``: the
    form as a whole); ``params`` are the values its message names, all safe to show to
    the person acting (usernames, roles, statuses: never report text or secrets)."""

    def __init__(self, reason: Reason, field: str | None = None, **params: object) -> None:
        super().__init__(reason, field, params)
        self.reason = reason
        self.field = field
        self.params = params

    def __str__(self) -> str:  # for tracebacks; people read sipadu.web.refusal_messages
        return " ".join(str(part) for part in (self.reason.name, self.field, self.params) if part)


class IntegrityFailed(ServiceError):
    """A sealed row (a message, a file, a note, a request's reason) did not authenticate
    with its report, its key and its own metadata: it was altered, relabelled, moved or
    re-dated in the database. Nothing of it is shown; views say so in words."""

    def __init__(self) -> None:
        super().__init__(Reason.INTEGRITY_FAILED)
