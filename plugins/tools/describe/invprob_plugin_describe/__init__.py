"""``invprob-plugin-describe``: ``invprob describe KIND NAME``, a component's params with their
types, defaults, ranges and descriptions (:mod:`invprob_plugin_describe.plugin`)."""
