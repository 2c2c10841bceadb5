"""The core's own components, as plugins like any other (simonw/llm's ``default_plugins``).

Each module here is an entry point of the ``invprob`` group in the core's ``pyproject.toml``
(distribution ``invprob-core``), so the core's components are found, listed and checked exactly as a
third-party plugin's are. Like any plugin module, these import nothing heavy: factories import
torch code on first build.
"""
