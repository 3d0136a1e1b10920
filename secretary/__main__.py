"""`python -m secretary`: the same as the `secretary` command."""

import sys

from secretary.cli import main

sys.exit(main())
