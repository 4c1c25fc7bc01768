"""The ``macbot`` command line: :func:`main` parses and hands off to one module per command
group; errors are rendered once, as one line with a named exit code."""

from .main import main

__all__ = ["main"]
