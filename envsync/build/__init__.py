"""Building wheels from source: a local project, an sdist, or a git checkout, through its PEP 517 backend."""
