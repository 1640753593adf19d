"""`python -m envsync`."""

from envsync.cli import run

run()
