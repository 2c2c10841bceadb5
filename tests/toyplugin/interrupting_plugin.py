"""A plugin that raises ``KeyboardInterrupt`` at import (no one pressed Ctrl-C)."""

raise KeyboardInterrupt
