"""Files kept across a warning round-trip (issue 21 item 3): the reporter's form came back
(identifying details were found) and the files it carried must not be chosen again.

The files stay *staged* (unlinked) in the database, as every upload is while it arrives
(:mod:`sipadu.evidence.storage`), and the page carries them to the next request in one
hidden field, :data:`FIELD`: a token sealed with AES-256-GCM
(:func:`sipadu.crypto.seal_secret`) under a key of the reporter portal only (derived
from the instance's reporter session key, label :data:`LABEL`; never stored), bound to
what the form is for and to this browser session's own secret (Flask-WTF's CSRF
secret, in the session cookie): it opens for nobody else, in no other form, and cannot
be read or made by the client. It holds, per file, the blob id, the file key, the name,
the declared type, the size, the stored bytes and what cleaning did (the outcome).

Format (version 1): ``base64url(0x01 ‖ nonce ‖ AES-GCM(JSON))``, the JSON being
``{"t": issued (unix seconds), "f": [[blob id hex, key hex, name, type, size,
stored bytes, outcome], …]}`` with the outcome as ``null``, ``["c", kind, [removed…],
[[field, value]…]]`` (cleaned) or ``["k", kind, why, [[field, value]…]]`` (kept as sent).

On the next request the files are looked up again (:func:`resume`): a file the reporter
ticked to drop is deleted at once; a file whose blob is gone (purged after an hour
without activity) or already linked (its report was stored: a replayed page) is not
attached and the page says it must be chosen again; the others are touched, so the hour
counts from the last round. The transaction that stores the report takes them with
:func:`claim`, which refuses a blob another request linked meanwhile: a file is never
attached twice.
"""

import base64
import json
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask import request, session
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sipadu.crypto import CryptoError, derive_subkey, open_secret, seal_secret
from sipadu.evidence import storage
from sipadu.evidence.outcome import (
    Cleaned,
    KeptAsSent,
    KeptReason,
    Kind,
    Outcome,
    Remaining,
    Removed,
)
from sipadu.evidence.storage import StoredFile, activity_bucket
from sipadu.persistence.db import rows_affected
from sipadu.persistence.models import Blob
from sipadu.services.attachments import UploadedFile
from sipadu.web.context import write_sessions

FIELD = "kept_files"
DROP = "drop_file"  # a checkbox per kept file, its value the file's place in the list
LABEL = "sipadu.kept-files.v1"  # the key's HKDF label (from the reporter session key)
_VERSION = 1
_SESSION_SECRET_FIELD = "csrf_token"  # noqa: S105 — a session key name: Flask-WTF's secret
MAX_AGE_SECONDS = 48 * 3600  # as long as a form's submission token
_PLACE = re.compile(r"[0-9]{1,3}")
MAX_TOKEN_CHARS = 64 * 1024  # a page carries at most 20 files: far less than this


class KeptGone(Exception):
    """A kept file was linked by another request while this one was storing."""


@dataclass
class Kept:
    """The kept files of this request: ``files`` still there (staged), ``lost`` the
    names of those that are gone (purged or already sent), ``dropped`` the names
    of those the reporter dropped, ``refused`` True when the posted token did not open
    (altered, forged, of another form or browser session, or too old)."""

    files: list[UploadedFile] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    refused: bool = False
    ticked: frozenset[int] = frozenset()  # drop boxes ticked but not applied (a switch)


def seal(key: bytes, purpose: str, files: Sequence[UploadedFile]) -> str:
    """The token a page carries for ``files`` (``""`` for none)."""
    if not files:
        return ""
    entries = [
        [
            upload.stored.blob_id.hex,
            upload.stored.key.hex(),
            upload.name,
            upload.content_type,
            upload.stored.size,
            upload.stored.stored_bytes,
            _outcome_json(upload.outcome),
        ]
        for upload in files
    ]
    plain = json.dumps({"t": int(time.time()), "f": entries}, separators=(",", ":")).encode()
    sealed = seal_secret(_key(key), plain, owner=_owner(purpose), purpose="kept-files")
    return base64.urlsafe_b64encode(sealed).decode()


def unseal(key: bytes, purpose: str, token: str) -> list[UploadedFile] | None:
    """The files a token lists, or None if it does not open here (see the module)."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        sealed = base64.urlsafe_b64decode(token.encode("ascii"))
        plain = open_secret(_key(key), sealed, owner=_owner(purpose), purpose="kept-files")
        data = json.loads(plain)
        if not 0 <= time.time() - int(data["t"]) <= MAX_AGE_SECONDS:
            return None
        return [_file(entry) for entry in data["f"]]
    except (CryptoError, ValueError, KeyError, TypeError, IndexError, UnicodeEncodeError):
        return None


def resume(key: bytes, purpose: str, *, apply_drops: bool = True) -> Kept:
    """This request's kept files (from :data:`FIELD`): dropped ones deleted (unless not
    ``apply_drops``: a language switch keeps the boxes as ticked), gone ones named,
    the others touched. Nothing posted: nothing kept."""
    token = request.form.get(FIELD, "")
    if not token:
        return Kept()
    files = unseal(key, purpose, token)
    if files is None:
        return Kept(refused=True)
    ticked = frozenset(p for v in request.form.getlist(DROP) if (p := place(v)) is not None)
    kept = Kept()
    if apply_drops:
        gone = [f for i, f in enumerate(files) if i in ticked]
        files = [f for i, f in enumerate(files) if i not in ticked]
        storage.discard(write_sessions(), [f.stored.blob_id for f in gone])
        kept.dropped = [f.name for f in gone]
    else:
        kept.ticked = ticked
    ids = [f.stored.blob_id for f in files]
    if not ids:
        return kept
    with write_sessions().begin() as writing:
        staged = set(
            writing.scalars(select(Blob.id).where(Blob.id.in_(ids), Blob.linked.is_(False)))
        )
        if staged:
            writing.execute(
                update(Blob)
                .where(Blob.id.in_(staged), Blob.linked.is_(False))
                .values(active_bucket=activity_bucket())
            )
    if not apply_drops and len(staged) != len(ids):
        kept.ticked = frozenset()  # the list changes: the places no longer fit
    kept.files = [f for f in files if f.stored.blob_id in staged]
    kept.lost = [f.name for f in files if f.stored.blob_id not in staged]
    return kept


def place(value: str) -> int | None:
    """A drop box's value: a file's place in the kept list, 1 to 3 ASCII digits (a page
    carries at most 20 files), or None for anything else ("²" is a digit to
    ``str.isdigit`` but not to ``int``; 5,000 digits are over ``int``'s limit)."""
    return int(value) if _PLACE.fullmatch(value) else None


def seal_notices(key: bytes, files: Sequence[UploadedFile]) -> str:
    """The code page's file notices, carried by its own forms (its language switch):
    each file's name and outcome only, sealed like kept files (no blob, no file key)."""
    if not any(f.outcome is not None for f in files):
        return ""
    entries = [[f.name, _outcome_json(f.outcome)] for f in files]
    plain = json.dumps({"t": int(time.time()), "n": entries}, separators=(",", ":")).encode()
    sealed = seal_secret(_key(key), plain, owner=_owner("notices"), purpose="file-notices")
    return base64.urlsafe_b64encode(sealed).decode()


def unseal_notices(key: bytes, token: str) -> list[tuple[str, Outcome | None]]:
    """The names and outcomes :func:`seal_notices` sealed; [] if it does not open."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return []
    try:
        sealed = base64.urlsafe_b64decode(token.encode("ascii"))
        plain = open_secret(_key(key), sealed, owner=_owner("notices"), purpose="file-notices")
        data = json.loads(plain)
        if not 0 <= time.time() - int(data["t"]) <= MAX_AGE_SECONDS:
            return []
        return [(str(name), _outcome(outcome)) for name, outcome in data["n"]]
    except (CryptoError, ValueError, KeyError, TypeError, IndexError, UnicodeEncodeError):
        return []


def claim(session: Session, files: Iterable[UploadedFile]) -> None:
    """In the transaction that stores the submission, before it links anything: take
    the kept files (each must still be staged, unlinked). Raises :class:`KeptGone` if
    one was linked or deleted meanwhile (the caller's transaction is rolled back). On
    PostgreSQL a second request updating the same rows waits for the first to commit,
    then finds them linked."""
    ids = [f.stored.blob_id for f in files]
    if not ids:
        return
    taken = rows_affected(
        session,
        update(Blob)
        .where(Blob.id.in_(ids), Blob.linked.is_(False))
        .values(active_bucket=activity_bucket()),
    )
    if taken != len(set(ids)):
        raise KeptGone


def _key(portal_key: bytes) -> bytes:
    """The sealing key: the portal's key, bound to this browser session's own secret."""
    secret = str(session.get(_SESSION_SECRET_FIELD, "")).encode()
    return derive_subkey(portal_key + b"\x00" + secret, LABEL)


def _owner(purpose: str) -> str:
    return f"kept-files/{purpose}"


def _outcome_json(outcome: Outcome | None) -> list[object] | None:
    if outcome is None:
        return None
    remaining = [[r.field, r.value] for r in outcome.remaining]
    kind = outcome.kind.value if outcome.kind is not None else None
    if isinstance(outcome, Cleaned):
        return ["c", kind, sorted(r.value for r in outcome.removed), remaining]
    return ["k", kind, outcome.why.value, remaining]


def _outcome(data: list | None) -> Outcome | None:
    if data is None:
        return None
    tag, kind, what, remaining = data
    found = tuple(Remaining(str(f), str(v)) for f, v in remaining)
    if tag == "c":
        removed = frozenset(Removed(r) for r in what)
        return Cleaned(Kind(kind), removed, found)
    if tag == "k":
        return KeptAsSent(Kind(kind) if kind is not None else None, KeptReason(what), found)
    raise ValueError("unknown outcome")


def _file(entry: list) -> UploadedFile:
    blob, key, name, content_type, size, stored_bytes, outcome = entry
    stored = StoredFile(uuid.UUID(hex=blob), bytes.fromhex(key), int(size), int(stored_bytes))
    return UploadedFile(stored, str(name), str(content_type), _outcome(outcome))
