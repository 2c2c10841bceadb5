"""``python -m invprob ARGS``: the ``invprob`` command, through the public façade (:func:`invprob.main`)."""

import sys

from invprob import main

sys.exit(main())
