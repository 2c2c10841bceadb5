"""A plugin with a misspelled hook name, caught at load time."""

from invprob import hookimpl


@hookimpl
def invprob_register_operator(registry):  # missing the final 's'
    pass
