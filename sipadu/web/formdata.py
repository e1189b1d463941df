"""Form bodies, read token first and in bounded memory, on both portals (DESIGN.md G8).

Werkzeug's own parser reads a whole body, file parts spooled to temporary files or held
in memory, before anyone has looked at the form token: an anonymous request could make
a worker hold or write hundreds of MiB. SIPADU drives Werkzeug's sans-IO
:class:`~werkzeug.sansio.multipart.MultipartDecoder` itself, in two steps:

1. ``request.form`` reads the text fields up to the first file part: each at most
   ``MAX_FORM_MEMORY_SIZE`` bytes (500 KB), all together at most :data:`TEXT_BYTES`
   (names included), at most ``MAX_FORM_PARTS`` parts. A longer value is cut there and
   the rest of it read and dropped: the form comes back with what arrived and says what
   to shorten (:func:`truncated_fields`), where a 413 page lost everything typed. The
   form token is checked with Flask-WTF's own :func:`~flask_wtf.csrf.validate_csrf`
   against the session as soon as its field ends.
   A refused token (another session's, or none in the session: :func:`token_problem`)
   still lets the text fields that follow it be read, within the same bounds, so that
   the form can come back with what was typed; the request ends with a 400
   (``CSRFError``) at its first file part or its end, and no file byte is read.
   A file part before a token, a file part the route does not take
   (:func:`receives_files`) or a NUL character ends the request at once with a 400:
   nothing more is read, nothing is stored.
2. File parts are read only when the view calls :func:`receive_files`, after every
   check that comes before a view (the token, the staff sign-in and role) and the
   view's own (the typed text). Each part is written, as it arrives, to the sink the
   route declared; an empty file input (no file name) may carry no byte. A sink
   refuses with :class:`UploadRefused`: the refusal is kept and returned, what follows
   is read and dropped (so the browser, still sending, gets to show the answer), and the
   view re-renders the form with the typed text: every form puts its file input last,
   so all of it was read in step 1. Text fields after a file part are dropped.
   A view that answers without the files calls :func:`discard_files` for the same reason.

URL-encoded bodies (forms without files) are read the same way: bounded, with the same
cuts (:func:`_read_urlencoded`).

Memory per request: the text (≤ 1 MiB, plus names of at most 100 characters per part),
one 64 KiB read and whatever the sink holds.
"""

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Protocol, TypeVar
from urllib.parse import parse_qsl

from flask import Request, Response, current_app, request, session
from flask_wtf.csrf import CSRFError, validate_csrf
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)
from werkzeug.wsgi import get_input_stream
from wtforms import ValidationError

from sipadu.services.attachments import clean_name, shorten_name

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

TEXT_BYTES = 1024 * 1024  # all text fields of one request together, names included
URLENCODED_BYTES = 8 * TEXT_BYTES  # a url-encoded body read (over TEXT_BYTES: dropped)
NAME_CHARS = 100  # the longest field name any of our forms uses is far shorter
NAMED_FILES = 100  # file names kept to name on a refusal (a form carries at most 20 files)
READ_BYTES = 64 * 1024  # one read from the client
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
FORM_TYPES = (MULTIPART, URLENCODED)

V = TypeVar("V", bound=Callable)
FORM_SENT = "sipadu.form_sent"  # environ: the body held a form token, valid or not
PAGES_THAT_KEEP_TEXT = (400, 409, 413, 429, 503)  # refusals, with the form where they can
DRAIN_HEADER = "X-Sipadu-Drain"  # for sipadu.hosting.front only; it never reaches the client


def mark_worth_draining(response: Response) -> Response:
    """``after_request``: an answer to one of our forms (it sent its token, perhaps an
    expired one) that is a page for a person, not a redirect or an access refusal, is
    marked for :mod:`sipadu.hosting.front`, which then reads the rest of an unread body before
    sending it, so the browser shows the page (with what was typed) instead of a reset
    connection. Everything else given before the body's end (no token: forged; not
    signed in) is answered at once and the rest of its body is never read."""
    status = response.status_code
    if request.environ.get(FORM_SENT) and (status < 300 or status in PAGES_THAT_KEEP_TEXT):
        response.headers[DRAIN_HEADER] = "1"
    return response


class Refusal(StrEnum):
    """Why the files of a request were not accepted; each has its own page text."""

    BAD_FILE_INPUT = "bad-file-input"  # a file part no browser sends (bytes with no name)
    FILE_TOO_LARGE = "file-too-large"
    TOO_MANY_FILES = "too-many-files"
    REQUEST_TOO_LARGE = "request-too-large"
    PIXEL_BUDGET = "pixel-budget"  # the pictures together are too large to clean
    CLEANING_BUDGET = "cleaning-budget"  # the documents together take too long to clean
    BUSY = "busy"  # no image-cleaning slot on this host within the wait
    NOT_READ_BACK = "not-read-back"  # a staged file failed its check when read to be cleaned


STATUS = {
    Refusal.BAD_FILE_INPUT: 400,
    Refusal.FILE_TOO_LARGE: 413,
    Refusal.TOO_MANY_FILES: 413,
    Refusal.REQUEST_TOO_LARGE: 413,
    Refusal.PIXEL_BUDGET: 413,
    Refusal.CLEANING_BUDGET: 413,
    Refusal.BUSY: 503,
    Refusal.NOT_READ_BACK: 500,
}


class UploadRefused(Exception):
    """The files of this request are not accepted, for ``reason``; ``name`` is the file
    it is about, when it is about one. ``status`` and ``headers`` are what the answer
    carries (503 comes with ``Retry-After``)."""

    def __init__(
        self, reason: Refusal, retry_after: int | None = None, name: str | None = None
    ) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.retry_after = retry_after
        self.name = name

    @property
    def status(self) -> int:
        return STATUS[self.reason]

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


class Sink(Protocol):
    """Where one file part goes: ``write`` as its bytes arrive, ``end`` once it is
    complete. Either may raise :class:`UploadRefused`."""

    def write(self, data: bytes) -> object: ...

    def end(self) -> None: ...


SinkFactory = Callable[[int, str, str], Sink]  # (index, file name, content type) -> Sink


@dataclass(frozen=True)
class FileRoute:
    field: str
    sink: SinkFactory


def receives_files(field: str, sink: SinkFactory) -> Callable[[V], V]:
    """Declare that a view takes file parts in the form field ``field``; each one is
    written to ``sink(index, filename, content_type)``. File parts sent to any other
    route or field are refused (400) before a byte of them is read."""

    def mark(view: V) -> V:
        view.sipadu_files = FileRoute(field, sink)  # type: ignore[attr-defined]
        return view

    return mark


def _route() -> FileRoute | None:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "sipadu_files", None)


class MemoryPart(io.BytesIO):
    """A sink for small files (checkpoints): in memory, at most ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def write(self, data: "ReadableBuffer") -> int:
        if self.tell() + memoryview(data).nbytes > self._limit:
            raise UploadRefused(Refusal.FILE_TOO_LARGE)
        return super().write(data)

    def end(self) -> None:
        self.seek(0)


class _Discard:
    """A refused or unwanted part: its bytes are read and dropped."""

    def write(self, data: bytes) -> int:
        return len(data)

    def end(self) -> None:
        pass


class _NoFile:
    """An empty file input (no file name): a browser sends no byte in it."""

    def write(self, data: bytes) -> int:
        if data:
            raise UploadRefused(Refusal.BAD_FILE_INPUT)
        return 0

    def end(self) -> None:
        pass


class MultipartBody:
    """The state of one multipart body between the two steps (see the module text)."""

    def __init__(self, req: "FormRequest", boundary: bytes) -> None:
        self._stream = get_input_stream(req.environ, max_content_length=None)
        self._length = req.content_length
        self._limit = req.max_content_length  # the whole body, files included
        self._field_bytes = req.max_form_memory_size or TEXT_BYTES
        self._decoder = MultipartDecoder(
            boundary, max_form_memory_size=self._field_bytes, max_parts=req.max_form_parts
        )
        self.form: MultiDict[str, str] = MultiDict()
        self.files: MultiDict[str, FileStorage] = MultiDict()
        self.received = 0  # bytes read from the client
        self.sent_files = False  # at least one file part with a name
        self._text_bytes = 0
        self.truncated: set[str] = set()  # text fields cut to the limits (see _text)
        self._pending: File | None = None  # the file part step 1 stopped at
        self._first_file: File | None = None
        self._finished = False
        self._refusal: UploadRefused | None = None
        self.file_names: list[str] = []  # of the file parts seen, to name on a refusal
        self.token_refused: str | None = None  # why the token was refused (Flask-WTF's words)

    # --- reading -----------------------------------------------------------------------

    def _next(self) -> Event:
        """The next event, reading from the client as needed; ``Epilogue`` at the end."""
        while True:
            try:
                event = self._decoder.next_event()
            except ValueError:
                raise BadRequest() from None  # malformed or cut off: no browser sends it
            if not isinstance(event, NeedData):
                if isinstance(event, Epilogue):
                    self._finished = True
                return event
            data = self._stream.read(READ_BYTES)
            self.received += len(data)
            self._decoder.receive_data(data or None)

    def _text(self, name: str, authorized: bool) -> str:
        """One text field's value. Past ``MAX_FORM_MEMORY_SIZE`` bytes, or past what is
        left of :data:`TEXT_BYTES`, the rest is read and dropped and ``name`` is added to
        :attr:`truncated`: the form comes back with the part that arrived and says what
        to shorten (nothing typed is lost to a 413 page). Before a valid token
        (``authorized`` False) there is no form to give back, and a body over the
        request limit is never read to its end: both are a 413 at once."""
        value = bytearray()
        cut = False
        while True:
            event = self._next()
            if not isinstance(event, Data):
                raise BadRequest()
            room = max(0, min(self._field_bytes - len(value), TEXT_BYTES - self._text_bytes))
            kept = event.data[:room]
            value += kept
            self._text_bytes += len(kept)
            if len(kept) < len(event.data):
                cut = True
                if not authorized or self._over_limit(self.received):
                    raise RequestEntityTooLarge()
            if not event.more_data:
                break
        text = value.decode("utf-8", "replace")
        if cut:
            self.truncated.add(name)
            return text.rstrip("\ufffd")  # a character cut in two
        return text

    # --- step 1: the text, token first ---------------------------------------------------

    def read_fields(self) -> None:
        token_name = current_app.config["WTF_CSRF_FIELD_NAME"]
        token_ok = not current_app.config["WTF_CSRF_ENABLED"]
        while not self._finished:
            event = self._next()
            if isinstance(event, Field | File):
                # No form of ours has a long name: 900 parts with 400 KB names were
                # +347 MiB and a minute of CPU before this check (review of issue 13).
                # Names count against the text budget too; past it, values are cut.
                name = event.name or ""
                self._text_bytes += len(name)
                if len(name) > NAME_CHARS:
                    raise BadRequest()
            if isinstance(event, Field):
                if event.name is None or "\x00" in event.name:
                    raise BadRequest()
                value = self._text(event.name, token_ok)
                if "\x00" in value:
                    raise BadRequest()
                self.form.add(event.name, value)
                if event.name == token_name:
                    request.environ[FORM_SENT] = True  # a form of ours, maybe expired
                if event.name == token_name and not token_ok and self.token_refused is None:
                    try:
                        validate_csrf(value)
                    except ValidationError as exc:
                        # Read on (the text only, within the same bounds): the form
                        # comes back with what was typed (sipadu.reporter.refused).
                        self.token_refused = exc.args[0]
                        continue
                    token_ok = True
            elif isinstance(event, File):
                if self.token_refused is not None:
                    self._note(event)
                    raise CSRFError(self.token_refused)
                route = _route()
                if not token_ok or route is None or event.name != route.field:
                    # Forged or broken; one over the size limit is told so.
                    raise (
                        RequestEntityTooLarge() if self._over_limit(self._length) else BadRequest()
                    )
                self._note(event)
                self._pending = event
                return
        if self.token_refused is not None:
            raise CSRFError(self.token_refused)

    @property
    def file_waiting(self) -> bool:
        """A chosen file that step 2 has not read (yet)."""
        return self._pending is not None and bool(self._pending.filename)

    def _note(self, event: File) -> None:
        """Remember a chosen file's name (shortened, at most :data:`NAMED_FILES` of them),
        so that a refusal can say which files must be chosen again."""
        if event.filename and len(self.file_names) < NAMED_FILES:
            self.file_names.append(shorten_name(clean_name(event.filename), NAME_CHARS * 2))

    # --- step 2: the files ---------------------------------------------------------------

    def read_files(self, route: FileRoute | None) -> UploadRefused | None:
        """Write every file part to ``route``'s sinks (``None``: drop them all)."""
        if self._pending is None:
            return self._refusal
        event: Event = self._pending
        self._first_file = self._pending  # already noted
        self._pending = None
        if self._over_limit(self._length):
            self._refusal = UploadRefused(Refusal.REQUEST_TOO_LARGE)
            return self._refusal  # not even read: the client is told as soon as possible
        index = 0
        while True:
            if isinstance(event, File):
                sink = self._open(route, event, index)
                index += 1 if event.filename else 0
                self._copy(sink, event)
            elif isinstance(event, Field):
                self._copy(_Discard(), None)
            elif isinstance(event, Epilogue):
                return self._refusal
            if self._over_limit(self.received):
                self._refuse(UploadRefused(Refusal.REQUEST_TOO_LARGE))
                return self._refusal  # past the limit nothing more is read
            try:
                event = self._next()
            except RequestEntityTooLarge:  # more parts than MAX_FORM_PARTS
                self._refuse(UploadRefused(Refusal.TOO_MANY_FILES))
                return self._refusal

    def _open(self, route: FileRoute | None, event: File, index: int) -> Sink:
        if not event.filename:
            return _NoFile()
        self.sent_files = True
        if event is not self._first_file:
            self._note(event)
        if self._refusal is not None or route is None:
            return _Discard()
        if event.name != route.field:
            self._refuse(UploadRefused(Refusal.BAD_FILE_INPUT))
            return _Discard()
        kind = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
        try:
            return route.sink(index, event.filename, kind)
        except UploadRefused as refused:
            self._refuse(refused)
            return _Discard()

    def _copy(self, sink: Sink, part: File | None) -> None:
        """Move one part's bytes to ``sink``; a refusal switches to dropping them."""
        while True:
            event = self._next()
            if not isinstance(event, Data):
                raise BadRequest()
            try:
                sink.write(event.data)
                if not event.more_data:
                    sink.end()
            except UploadRefused as refused:
                self._refuse(refused)
                sink = _Discard()
            if self._over_limit(self.received):
                return
            if not event.more_data:
                break
        if part is not None and part.filename and not isinstance(sink, _Discard | _NoFile):
            self.files.add(
                part.name,
                FileStorage(sink, part.filename, part.name, headers=part.headers),  # type: ignore[arg-type]
            )

    def _over_limit(self, size: int | None) -> bool:
        return size is not None and self._limit is not None and size > self._limit

    def _refuse(self, refused: UploadRefused) -> None:
        if self._refusal is None:
            self._refusal = refused


class FormRequest(Request):
    """Flask's request with form bodies read by :class:`MultipartBody` (multipart) or
    with a bounded read (url-encoded); any other body is never read."""

    multipart: MultipartBody | None = None
    urlencoded: "UrlEncodedBody | None" = None

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        empty: MultiDict = MultiDict()
        if self.mimetype == MULTIPART and self.method == "POST":
            boundary = self.mimetype_params.get("boundary", "").encode("ascii", "replace")
            if not boundary:
                self._set(empty, empty)
                raise BadRequest()
            self.multipart = MultipartBody(self, boundary)
            # Set before reading: whatever is raised, nobody re-reads a half-read stream.
            self._set(self.multipart.form, self.multipart.files)
            self.multipart.read_fields()
        elif self.mimetype == URLENCODED:
            self._set(empty, empty)
            self.urlencoded = _read_urlencoded(
                get_input_stream(self.environ, max_content_length=None),
                min(self.max_content_length or URLENCODED_BYTES, URLENCODED_BYTES),
                self.max_form_memory_size or TEXT_BYTES,
                self.max_form_parts,
            )
            self._set(MultiDict(self.urlencoded.items), empty)
        else:
            self._set(empty, empty)

    def _set(self, form: MultiDict, files: MultiDict) -> None:
        # Werkzeug's cached properties are bypassed by writing the instance dict.
        self.__dict__["form"], self.__dict__["files"] = form, files
        self.__dict__.setdefault("stream", io.BytesIO())


@dataclass
class UrlEncodedBody:
    items: list[tuple[str, str]]
    truncated: set[str]


def _read_urlencoded(
    stream: IO[bytes], body_limit: int | None, field_bytes: int, max_parts: int | None
) -> UrlEncodedBody:
    """``name=value&...`` read 64 KiB at a time: each pair kept up to ``field_bytes``
    (encoded) and all together up to :data:`TEXT_BYTES`, the rest of a pair dropped and
    its name recorded as cut. Raises 413 past ``body_limit`` bytes (at most
    :data:`URLENCODED_BYTES`: the token is checked only once the body is read, so an
    anonymous body is never read further) or ``max_parts`` pairs, 400 for a body that
    is not UTF-8."""
    pairs: list[bytes] = []
    cut: list[bool] = []
    current, current_cut, kept, received = bytearray(), False, 0, 0
    while True:
        data = stream.read(READ_BYTES)
        received += len(data)
        if body_limit is not None and received > body_limit:
            raise RequestEntityTooLarge()
        pieces = data.split(b"&") if data else [b""]
        for index, piece in enumerate(pieces):
            if index:  # an "&": the pair before it is complete
                pairs.append(bytes(current))
                cut.append(current_cut)
                current, current_cut = bytearray(), False
                if max_parts is not None and len(pairs) > max_parts:
                    raise RequestEntityTooLarge()
            room = max(0, min(field_bytes - len(current), TEXT_BYTES - kept))
            current += piece[:room]
            kept += min(room, len(piece))
            current_cut = current_cut or len(piece) > room
        if not data:
            break
    if current or current_cut:
        pairs.append(bytes(current))
        cut.append(current_cut)
    items, truncated = [], set()
    for pair, was_cut in zip(pairs, cut, strict=True):
        if not pair and not was_cut:
            continue
        if was_cut:  # an escape ("%4" of "%41") cut in two is dropped, not decoded
            pair = re.sub(rb"%[0-9A-Fa-f]?$", b"", pair)
        try:
            text = pair.decode()
        except UnicodeDecodeError:
            raise BadRequest() from None
        # as Werkzeug's own parser decodes (errors="werkzeug.url_quote")
        parsed = parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
        name, value = parsed[0] if parsed else (text, "")
        if was_cut:
            truncated.add(name)
            value = value.rstrip("\ufffd")  # a character cut in two
        items.append((name, value))
    return UrlEncodedBody(items, truncated)


def receive_files() -> UploadRefused | None:
    """Read this request's file parts into its route's sinks (once; then
    ``request.files`` holds them). Returns the refusal, if the files were refused; the
    files received before a refusal stay in ``request.files`` for the caller to drop."""
    body = _body()
    return body.read_files(_route()) if body is not None else None


def discard_files() -> bool:
    """Read and drop the rest of the body (files the view will not use). True if the
    request carried a chosen file (so its sender must choose it again)."""
    body = _body()
    if body is None:
        return False
    body.read_files(None)
    return body.sent_files


class TokenProblem(StrEnum):
    """Why a form's token was refused, as the person who sent it can understand it.
    Tokens never expire by time here (``WTF_CSRF_TIME_LIMIT`` is None): a form open for
    hours is accepted; these are the causes that remain."""

    NO_TOKEN = "no-token"  # noqa: S105 — a name, not a secret. The body carried none: not sent by a form of ours
    NO_SESSION = "no-session"  # no session came with it: the cookie is gone (browser
    # closed and opened again, cookies deleted, Tor Browser's "New identity", a session
    # ended by leaving the mailbox in another tab)
    OTHER_SESSION = "other-session"  # made for this browser's earlier session: it signed
    # in to (or left) the mailbox since, perhaps in another tab (each sign-in starts a
    # new session)
    FOREIGN = "foreign"  # not made with this server's key: its keys changed, or altered


def token_problem() -> TokenProblem:
    """Why this request's form token was refused (call it on a ``CSRFError``). Looks at
    what Flask-WTF looks at (the posted token, the session's, the signature), not at its
    message."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    posted = request.form.get(field)
    if not posted:
        return TokenProblem.NO_TOKEN
    if field not in session:
        # A session with other content but no token was started since the form was
        # made (a sign-in starts one afresh); no session at all: the cookie is gone.
        return TokenProblem.OTHER_SESSION if session else TokenProblem.NO_SESSION
    key = current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    try:
        URLSafeTimedSerializer(key, salt="wtf-csrf-token").loads(posted)  # type: ignore[arg-type]
    except BadData:
        return TokenProblem.FOREIGN
    return TokenProblem.OTHER_SESSION


def chosen_files() -> list[str]:
    """The names of the files this request carried (as sent, each at most 200
    characters), as far as its body was read: the first one even when none was read.
    For a refusal that says which files must be chosen again."""
    body = _body()
    return list(body.file_names) if body is not None else []


def files_waiting() -> bool:
    """True if this request carries a chosen file that nothing has read yet."""
    body = _body()
    return body is not None and body.file_waiting


def truncated_fields() -> frozenset[str]:
    """The names of this request's text fields that arrived cut, because they were
    longer than one field or all the text of a request may be (see
    :meth:`MultipartBody._text`). A form that finds its fields here is not valid
    (:class:`sipadu.web.forms.BoundedForm`)."""
    body = _body() or request.urlencoded  # type: ignore[attr-defined]
    return frozenset(body.truncated) if body is not None else frozenset()


def _body() -> MultipartBody | None:
    request.form  # noqa: B018 — step 1 first, if nothing asked for the form yet
    return getattr(request, "multipart", None)
