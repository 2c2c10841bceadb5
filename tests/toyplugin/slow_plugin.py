"""A plugin that takes ``INVPROB_TEST_SLOW_IMPORT`` seconds to import: a signal sent meanwhile
arrives during the command's start-up."""

import os
import time

time.sleep(float(os.environ.get("INVPROB_TEST_SLOW_IMPORT", "0")))
