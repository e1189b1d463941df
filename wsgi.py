"""WSGI entry points for gunicorn: ``gunicorn wsgi:reporter`` and ``gunicorn wsgi:staff``.

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
