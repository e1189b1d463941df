"""Both portals under gunicorn: ``python -m sipadu.serve reporter|staff``.

gthread workers: a slow upload over Tor occupies one thread, not a whole worker, and the
worker's heartbeat to the master keeps running, so a 500 MiB upload that takes an hour
is not killed. No access log (it would record client addresses and paths); errors go
to stderr at WARNING, and Flask never logs request data.
"""

import sys
from pathlib import Path

import gunicorn.http.wsgi
from gunicorn.app.base import BaseApplication

from sipadu.app import Portal, create_app
from sipadu.config import Config, from_environ

# gunicorn names itself and its version in every response's Server header; a reporter's
# adversary learns nothing useful from "SIPADU", and no version to match exploits to.
gunicorn.http.wsgi.SERVER = "SIPADU"


def gunicorn_options(portal: Portal, config: Config) -> dict[str, object]:
    options: dict[str, object] = {
        "bind": [config.reporter_bind if portal is Portal.REPORTER else config.staff_bind],
        "workers": config.workers,
        "worker_class": "gthread",
        "threads": config.threads,
        # The worker's heartbeat, not a request deadline: under gthread the main thread
        # notifies the master while other threads receive a slow upload.
        "timeout": config.heartbeat_seconds,
        "graceful_timeout": 30,
        "keepalive": 5,
        "preload_app": True,  # config and secret errors stop the master, once
        "accesslog": None,
        "disable_redirect_access_to_syslog": True,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": f"sipadu-{portal.value}",
        # Never trust forwarding headers: no client address is wanted anywhere.
        "forwarded_allow_ips": "",
        "proxy_allow_ips": "",
    }
    if Path("/dev/shm").is_dir():  # noqa: S108 — gunicorn's documented tmpfs choice
        options["worker_tmp_dir"] = "/dev/shm"  # noqa: S108 — heartbeat file off the disk
    return options


class PortalServer(BaseApplication):
    def __init__(self, portal: Portal, config: Config) -> None:
        self.portal = portal
        self.sipadu_config = config
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.portal, self.sipadu_config).items():
            self.cfg.set(key, value)

    def load(self):
        return create_app(self.portal.value, self.sipadu_config)


def main(argv: list[str]) -> None:
    portal = Portal(argv[0] if argv else "reporter")
    PortalServer(portal, from_environ()).run()


if __name__ == "__main__":
    main(sys.argv[1:])
