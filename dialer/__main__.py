"""``python -m dialer``: the same command line as the ``dialer`` console script."""

from __future__ import annotations

import sys

from dialer.cli import main

if __name__ == "__main__":
    sys.exit(main())
