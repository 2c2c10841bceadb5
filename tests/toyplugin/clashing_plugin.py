"""A plugin that registers names others already register: the toy plugin's solver, the core's
``mse`` loss and metric ``psnr`` and the first-party imaging plugin's ``denoise`` operator, next
to an operator of its own that nobody else has."""

from invprob import hookimpl


@hookimpl
def invprob_register_solvers(registry):
    registry.add("toy-descent", lambda params, context: None)


@hookimpl
def invprob_register_losses(registry):
    registry.add("mse", lambda params, context: None)


@hookimpl
def invprob_register_metrics(registry):
    registry.add("psnr", lambda params, context: None)


@hookimpl
def invprob_register_operators(registry):
    registry.add("clash-only", lambda params, context: None)
    registry.add("denoise", lambda params, context: None)
