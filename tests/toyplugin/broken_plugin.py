"""A plugin that fails on import, to test that it is reported and the rest keeps working."""

raise ImportError("this plugin is broken on purpose (it needs a package that is not installed)")
