"""Nothing to configure: the conformance suite needs no fixture. (A plugin tested on its own,
outside invprob's repository, may add ``pytest_plugins = ["invprob.testing"]`` here for the
``invprob_registry`` fixture and the ``gpu`` marker.)"""
