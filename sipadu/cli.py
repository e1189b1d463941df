"""The ``sipadu`` command. Subcommands arrive with the features they operate."""

import click

from sipadu import __version__


@click.group()
@click.version_option(__version__, prog_name="sipadu")
def main() -> None:
    """SIPADU: whistleblowing system administration."""
