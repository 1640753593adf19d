"""Commands too large for cli.py: each module parses nothing and prints nothing, it returns values."""
