"""What the servers' logs may hold: nothing of a request.

A log line outlives every other trace of a visit: it is copied to journald, to backups,
to whoever is asked to look into a crash. gunicorn, uvicorn and Flask write request
values into theirs: Flask logs ``Exception on <path> [<method>]`` (the path of a
mailbox attachment names it; a path with ``%0d%0a`` in it added a line of the
visitor's choosing), gunicorn's own workers ``Invalid request from ip=<address>: <the
request line>``, and an exception's message often quotes the value that broke it
(h11's ``Illegal header value b'…'``, ``int()``'s ``invalid literal …: 'canary'``).

:class:`RequestFree` rewrites every record that passes it, whichever logger made it:

- a message with values (``msg % args``) keeps its wording, each value replaced by
  ``…``: ``Exception on … […]``;
- a message formatted before logging (Flask's, gunicorn's) keeps its wording up to
  where values begin (a ``": "``, a path, ``name=``, a bracket, a quote, a line
  break): ``Exception on …``, ``Invalid request from ip …``; any IP address masked;
- an exception keeps its class (and the classes it was raised from) and the last
  frames of its traceback, file, line and function: never its message, and never a
  local variable;
- an exception the *servers* log (gunicorn's and uvicorn's own loggers: "Exception in
  ASGI application", "Error handling request") is one fixed line, its wording and the
  exception's classes, no traceback: such lines are what a stranger can make the server
  write at will (a malformed chunked body once wrote twelve lines each time: issue 15,
  item 10), and their frames are the server's, not SIPADU's.

It is installed on the loggers that request handling writes to, on their handlers
(a record from a child logger reaches the handler, not the parent's filters), and on
the handlers of last resort (Flask's default one, :data:`logging.lastResort`). The root
logger's handlers are the embedding program's (none under ``sipadu serve``). What
Python itself writes to stderr outside logging goes through logging too: warnings
(``logging.captureWarnings``), an exception that ends a thread
(:func:`threading.excepthook`) and one Python cannot raise ("Exception ignored in",
:func:`sys.unraisablehook`), each reduced to its class and frames.
"""

import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable

# printf-style conversion specifiers, as logging's ``msg % args`` reads them.
_SPECIFIER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
VALUE = "…"
# Where a value starts in a message formatted before logging: after ": ", a path
# (" /"), "name=", a bracket or a quote, or at the end of the first line.
_VALUES_BEGIN = (": ", " /", "=", " [", " (", " '", ' "', "\r", "\n")
MAX_FRAMES = 8

# Where request handling logs: the servers' error logs, Flask's (both portals' apps are
# named after sipadu.app), Werkzeug's.
REQUEST_LOGGERS = (
    "gunicorn.error",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.asgi",
    "sipadu.app",
    "flask.app",
    "werkzeug",
    "py.warnings",  # warnings.warn(...), once logging.captureWarnings is on
    "sipadu.uncaught",  # exceptions that end a thread, or that Python cannot raise
)
_UNCAUGHT = logging.getLogger("sipadu.uncaught")
# The servers' own loggers: an exception they log is reduced to one line (module doc).
SERVER_LOGGERS = frozenset({"gunicorn.error", "uvicorn", "uvicorn.error", "uvicorn.asgi"})


class RequestFree(logging.Filter):
    """Let every record through, rewritten to hold nothing of a request (module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "sipadu_request_free", False):
            return True  # already rewritten (it passes a logger's and a handler's filter)
        record.msg = _message(record)
        record.args = None
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and record.name in SERVER_LOGGERS:
            record.msg = f"{record.msg} ({', '.join(_class_name(e) for e in _chain(error))})"
            record.exc_text = None
        elif error is not None:
            record.exc_text = _traceback(error)
        elif record.exc_text:
            record.exc_text = "(an exception, its text withheld)"
        record.exc_info = None
        record.stack_info = None
        record.sipadu_request_free = True
        return True


REQUEST_FREE = RequestFree()


def keep_requests_out_of_logs(handlers: Iterable[logging.Handler] = ()) -> None:
    """Install :data:`REQUEST_FREE` on the request loggers, their handlers, the handlers
    of last resort, and ``handlers`` (a server's own, made after the app). Idempotent."""
    from flask.logging import default_handler

    chosen = [default_handler, *handlers]
    if logging.lastResort is not None:
        chosen.append(logging.lastResort)
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        logger.addFilter(REQUEST_FREE)
        chosen.extend(logger.handlers)
    for handler in chosen:
        handler.addFilter(REQUEST_FREE)
    warned = logging.getLogger("py.warnings")
    if not warned.handlers:  # else captureWarnings would give it a handler that drops all
        to_stderr = logging.StreamHandler()
        to_stderr.addFilter(REQUEST_FREE)
        warned.addHandler(to_stderr)
    logging.captureWarnings(True)
    threading.excepthook = _thread_ended
    sys.unraisablehook = _unraisable


def _thread_ended(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None and args.exc_type is not SystemExit:
        error = (args.exc_type, args.exc_value, args.exc_traceback)
        _UNCAUGHT.error("An exception ended a thread", exc_info=error)


def _unraisable(unraisable: "sys.UnraisableHookArgs") -> None:
    if unraisable.exc_value is not None:
        error = (unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback)
        _UNCAUGHT.error("An exception was ignored", exc_info=error)


_WARNING = re.compile(r"^(?P<where>[^\n]*?:\d+): (?P<category>\w+): ")


def _message(record: logging.LogRecord) -> str:
    if record.name == "py.warnings" and (warning := _WARNING.match(str(record.msg))):
        # "file:line: Category: text": where and which warning, never its text
        return f"{warning['where']}: {warning['category']} {VALUE}"
    if not isinstance(record.msg, str):
        # ``log.exception(error)``: the message would be the error's text.
        return f"{type(record.msg).__name__} (text withheld)"
    if record.args:
        text = _SPECIFIER.sub(lambda m: "%" if m.group(0) == "%%" else VALUE, record.msg)
    else:
        text = _cut_before_values(record.msg.rstrip())
    text = text.splitlines()[0] if text else text
    text = _IPV6.sub(VALUE, _IPV4.sub(VALUE, text))
    return "".join(c if c.isprintable() else VALUE for c in text)


def _cut_before_values(text: str) -> str:
    """A message formatted before it was logged, up to where values begin: Flask's
    ``Exception on /path [GET]``, gunicorn's ``Invalid request from ip=…: …``."""
    ends = [at for at in (text.find(mark) for mark in _VALUES_BEGIN) if at >= 0]
    return f"{text[: min(ends)]} {VALUE}" if ends else text


def _traceback(error: BaseException) -> str:
    """Python's traceback with the values left out: for each exception in the chain
    (oldest first), its frames (the last :data:`MAX_FRAMES`) and its class."""
    parts: list[str] = []
    for index, exception in enumerate(reversed(_chain(error))):
        if index:
            parts.append("Then, while handling it:")
        parts.append("Traceback (most recent call last; values withheld):")
        frames = traceback.extract_tb(exception.__traceback__)
        if len(frames) > MAX_FRAMES:
            parts.append(f"  ({len(frames) - MAX_FRAMES} earlier frames)")
        for frame in frames[-MAX_FRAMES:]:
            parts.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        parts.append(_class_name(exception))
    return "\n".join(parts)


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions it was raised from or while handling, newest first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain


def _class_name(error: BaseException) -> str:
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"
