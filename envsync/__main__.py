"""`python -m envsync`."""

import sys

from .cli import main

sys.exit(main())
