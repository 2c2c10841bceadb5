"""A plugin that calls ``sys.exit()`` at import: it must not take the command line down."""

import sys

sys.exit(3)
