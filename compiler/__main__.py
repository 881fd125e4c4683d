"""`python3 -m applc ...` is the `applc` command."""

import sys

from .driver.cli import main

sys.exit(main())
