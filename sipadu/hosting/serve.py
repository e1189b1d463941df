"""Both portals under gunicorn: ``python -m sipadu.hosting.serve reporter|staff``.

gunicorn is the process manager (workers, heartbeat, graceful restarts); each worker
runs one asyncio event loop (uvicorn, through the ``uvicorn-worker`` package) that owns
every connection, and pools of threads that run the Flask app (``a2wsgi``): one for
forms, one for pages and downloads, one for uploads (:func:`portal_asgi`). Between
them, :mod:`sipadu.hosting.front` makes a slow or stalled client cost a connection, never a
thread: heads and small bodies are received on the event loop, uploads stream to a
thread only within a bounded number of slots, and every body keeps a minimum pace. The
worker's heartbeat is sent by the event loop, so an upload that takes an hour is not
killed.

No access log (it would record client addresses and paths); errors go to stderr at
WARNING, and no line of gunicorn's, uvicorn's or Flask's carries request data: every
record is rewritten by :mod:`sipadu.web.logs` (:class:`PortalLogger`).
"""

import resource
import signal
import sys
from pathlib import Path
from typing import Any

import gunicorn.http.wsgi
from a2wsgi import WSGIMiddleware
from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger
from uvicorn_worker import UvicornWorker

from sipadu.app import Portal, create_app
from sipadu.hosting import front
from sipadu.settings.config import Config, from_environ
from sipadu.web import errors
from sipadu.web.logs import keep_requests_out_of_logs

# gunicorn names itself and its version in every response's Server header (its own
# workers); a reporter's adversary learns nothing useful from "SIPADU", and no version
# to match exploits to. PortalWorker sends the same header from uvicorn.
# (types-gunicorn leaves out the name this module imports from gunicorn itself.)
gunicorn.http.wsgi.SERVER = "SIPADU"  # type: ignore[attr-defined]
SERVER_HEADER = ("server", "SIPADU")
# h11's default made explicit: an incomplete request head (line and headers) buffered
# past this is a 400. It bounds what a connection holds before its head is complete; a
# head that arrives whole in one read (up to 64 KiB) is parsed whatever its size.
MAX_HEAD_BYTES = 16 * 1024
GRACEFUL_SECONDS = 30


def gunicorn_options(portal: Portal, config: Config) -> dict[str, object]:
    options: dict[str, object] = {
        "bind": [config.reporter_bind if portal is Portal.REPORTER else config.staff_bind],
        "workers": config.workers,
        "worker_class": "sipadu.hosting.serve.PortalWorker",
        # The worker's heartbeat, not a request deadline: the event loop notifies the
        # master while threads receive a slow upload.
        "timeout": config.heartbeat_seconds,
        "graceful_timeout": GRACEFUL_SECONDS,
        "keepalive": 5,  # uvicorn's idle keep-alive timeout
        "preload_app": True,  # config and secret errors stop the master, once
        "accesslog": None,
        "disable_redirect_access_to_syslog": True,
        "errorlog": "-",
        "loglevel": "warning",
        "logger_class": "sipadu.hosting.serve.PortalLogger",
        "proc_name": f"sipadu-{portal.value}",
        # Never trust forwarding headers: no client address is wanted anywhere.
        "forwarded_allow_ips": "",
        "proxy_allow_ips": "",
    }
    if Path("/dev/shm").is_dir():  # noqa: S108 — gunicorn's documented tmpfs choice
        options["worker_tmp_dir"] = "/dev/shm"  # noqa: S108 — heartbeat file off the disk
    return options


def uvicorn_options(config: Config, pages: front.Pages) -> dict[str, Any]:
    """uvicorn's settings for a portal worker (merged into its ``uvicorn.Config``);
    ``pages`` are the front's refusal pages (the "busy" one past the connection cap)."""
    busy = front.raw_response(front.BUSY, *pages(front.BUSY, ""))
    return {
        "loop": "asyncio",
        "http": front.deadline_protocol(
            config.head_timeout_seconds,
            config.send_timeout_seconds,
            config.max_connections,
            busy,
            config.contended_rate,
        ),
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "lifespan": "off",
        "access_log": False,
        "server_header": False,  # no "uvicorn" ...
        "headers": [SERVER_HEADER],  # ... but the same Server header as before
        "proxy_headers": False,
        "limit_concurrency": None,  # the cap is deadline_protocol's (idle ones go first)
        "timeout_graceful_shutdown": GRACEFUL_SECONDS - 5,
    }


class PortalLogger(GunicornLogger):
    """gunicorn's logger, its handlers made request-free (:mod:`sipadu.web.logs`): they
    are also uvicorn's (``UvicornWorker`` hands them to ``uvicorn.error``), and they are
    made again on every reload (SIGHUP), so they are filtered here and not once."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        keep_requests_out_of_logs([*self.error_log.handlers, *self.access_log.handlers])


class PortalWorker(UvicornWorker):
    """gunicorn worker: uvicorn's event loop serving the portal built by :class:`PortalServer`."""

    @property
    def CONFIG_KWARGS(self) -> dict[str, Any]:
        # UvicornWorker.__init__ merges this into uvicorn.Config; self.app (the
        # PortalServer) is set by then, its portal loaded (preload_app).
        return uvicorn_options(self.app.sipadu_config, self.app.wsgi().pages)

    def init_signals(self) -> None:
        super().init_signals()
        # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again
        # to "die by it": the worker would end killed by a signal, which gunicorn logs
        # as an error ("Worker was sent SIGTERM!") at every stop. Exit cleanly instead.
        for stop in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop, _exit_cleanly)


def _exit_cleanly(_signum: int, _frame: object) -> None:
    sys.exit(0)


def portal_asgi(portal: Portal, config: Config) -> front.Front:
    """The portal's Flask app behind the front: an ASGI application."""
    app = create_app(portal.value, config)
    limits = front.Limits(
        body_timeout=config.body_timeout_seconds,
        body_min_rate=config.body_min_rate,
        small_body=config.small_body_bytes,
        upload_slots=config.upload_slots,
        upload_queue=config.upload_queue,
        upload_wait=config.upload_wait_seconds,
        contended_rate=config.contended_rate,
        drain_bytes=config.max_request_bytes,
    )
    # Three pools, so that what may hold a thread long never takes the threads others
    # need (sipadu/hosting/front.py, "Bulkheads"). Forms:
    bridge = _thread_pool(app, config.threads)
    # Pages and downloads: a flood of posts cannot queue them; SIPADU_THREADS, plus one
    # for each download slot (a reader may keep one for SIPADU_SEND_TIMEOUT_SECONDS),
    # plus one for a download waiting for a stalled reader's slot (web.context.download).
    reads = _thread_pool(app, config.threads + config.download_slots + 1)
    # Uploads: one thread per slot (a slow one holds it as long as it goes on).
    uploads = _thread_pool(app, config.upload_slots)
    return front.Front(bridge, limits, errors.refusal_pages(app), reads, uploads)


def _thread_pool(app: Flask, workers: int) -> front.ASGIApp:
    """The Flask app as an ASGI app, run in a pool of its own ``workers`` threads."""
    # a2wsgi types the WSGI environ and the ASGI scope and messages as TypedDicts, which
    # Flask's and sipadu.hosting.front's dicts are not: the same objects at run time.
    return WSGIMiddleware(app, workers=workers)  # type: ignore[arg-type, return-value]


class PortalServer(BaseApplication):
    def __init__(self, portal: Portal, config: Config) -> None:
        self.portal = portal
        self.sipadu_config = config
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.portal, self.sipadu_config).items():
            self.cfg.set(key, value)

    def load(self) -> front.Front:
        return portal_asgi(self.portal, self.sipadu_config)


def raise_open_files_limit() -> None:
    """Every connection is a file descriptor, and stalled ones are kept until their
    deadline: use the whole hard limit (systemd's default soft limit is 1024)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft = 65536 if hard == resource.RLIM_INFINITY else hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def main(argv: list[str]) -> None:
    portal = Portal(argv[0] if argv else "reporter")
    raise_open_files_limit()
    PortalServer(portal, from_environ()).run()


if __name__ == "__main__":
    main(sys.argv[1:])
