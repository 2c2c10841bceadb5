"""A plugin that prints while it loads, and registers a metric: its output must not reach stdout."""

from invprob import hookimpl

print("hello from printing_plugin at import")


@hookimpl
def invprob_register_metrics(registry):
    print("hello from printing_plugin's hook")
    registry.add("printed-metric", lambda params, context: None)
