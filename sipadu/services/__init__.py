"""Use cases: plain functions taking a SQLAlchemy session and values, returning values.
No Flask here: they are tested without HTTP and called from views and the CLI alike."""


class ServiceError(Exception):
    """A use case refused its input; the message is safe to show to the person acting."""
