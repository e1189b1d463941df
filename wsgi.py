"""WSGI entry points: ``wsgi:reporter`` and ``wsgi:staff``, for tools that take a WSGI
app. Serve the portals with ``sipadu serve`` instead: its front (sipadu/hosting/front.py) keeps
slow and stalled clients from taking the threads; a plain ``gunicorn wsgi:reporter``
has no such protection.

Each portal is built only when asked for, so a reporter worker never loads the staff
session key (and the reporter app never exists in a staff worker).
"""

from sipadu import create_app


def __getattr__(name: str):
    if name in ("reporter", "staff"):
        app = create_app(name)
        globals()[name] = app
        return app
    raise AttributeError(name)
