"""Serving the portals: gunicorn and the event-driven front, and `sipadu check`."""
