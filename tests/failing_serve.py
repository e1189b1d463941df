"""``python -m tests.failing_serve reporter``: the real server (gunicorn, uvicorn, the
front, Flask), its app given two routes that fail the way a bug would, for scanning
the server's log (tests/test_serve.py). ``/_fails/<text>`` raises inside Flask with the
text in the exception's message; ``/_bad-header/<text>`` answers a header uvicorn
refuses, with the text in it (h11 quotes it in its exception)."""

import sys

from flask import Flask, Response

from sipadu.hosting import serve

_create_app = serve.create_app


def _failing_app(portal: str, config: object) -> Flask:
    app = _create_app(portal, config)  # type: ignore[arg-type]

    def fails(text: str) -> str:
        raise ValueError(f"broke on {text!r}")

    def bad_header(text: str) -> Response:
        return Response("x", headers={"X-Echo": f"{text}\x00"})

    app.add_url_rule("/_fails/<path:text>", "fails", fails)
    app.add_url_rule("/_bad-header/<path:text>", "bad_header", bad_header)
    return app


serve.create_app = _failing_app  # type: ignore[assignment]

if __name__ == "__main__":
    serve.main(sys.argv[1:])
