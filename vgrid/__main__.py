"""`python -m vgrid ...`: the `vgrid` command (see `vgrid.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
