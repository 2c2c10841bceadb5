"""A plugin that takes ``INVPROB_TEST_SLOW_IMPORT`` seconds to import: a signal sent meanwhile
arrives during the command's start-up. Before it sleeps it says so on stderr (:data:`SLEEPING`),
so that a test sends its signal once the sleep has begun, not after a delay guessed to be long
enough for the interpreter to start."""

import os
import sys
import time

SLEEPING = "slow_plugin: sleeping at import"

seconds = float(os.environ.get("INVPROB_TEST_SLOW_IMPORT", "0"))
if seconds > 0:
    print(SLEEPING, file=sys.stderr, flush=True)
    time.sleep(seconds)
