"""`python -m envsync`."""

import sys

from envsync.cli import main

sys.exit(main())
