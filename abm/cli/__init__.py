"""The `mechsim` command line; the only package that prints."""

from abm.cli.main import main

__all__ = ["main"]
