"""Commands that are more than a few lines, one module each; cli.py parses and calls `run`."""
