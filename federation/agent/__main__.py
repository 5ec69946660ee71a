"""``python -m federation.agent``: the ``federation-agent`` command."""

import sys

from federation.agent.cli import main

sys.exit(main())
