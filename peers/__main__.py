"""``python -m peers``: the command line of peers/cli.py."""

import sys

from peers.cli import main

sys.exit(main())
