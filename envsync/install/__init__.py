"""Putting packages into venvs: validate and unpack wheels, link them in, create venvs."""
