"""Messages that help a user recover from a wrong name: "did you mean" and what is installed.

The registry only knows what is registered; the sentences a user reads when a name is wrong
live here, built from the installed plugins alone (the core keeps no list of plugin names).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from invprob.registry import Registry


def suggest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Close matches of ``word`` among ``candidates``, best first."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


def singular(kind: str) -> str:
    """``"losses"`` -> ``"loss"``, ``"solvers"`` -> ``"solver"``."""
    return kind[:-2] if kind.endswith("sses") else kind[:-1]


def unknown_component_message(registry: Registry, kind: str, name: str) -> str:
    """Why ``name`` is not a ``kind`` here: the close installed names, else what is installed.

    Without a close match the message also says what to do: install the plugin that provides
    the name, or look at the plugins that failed to load (one of them may have provided it).

    >>> unknown_component_message(registry, "solvers", "csgn")  # doctest: +SKIP
    "unknown solver 'csgn'; did you mean 'csgm'?"
    """
    installed = registry.names(kind)
    unknown = f"unknown {singular(kind)} {name!r}"
    close = suggest(name, installed)
    if close:
        return f"{unknown}; did you mean {' or '.join(repr(c) for c in close)}?"
    parts = [unknown, f"installed {kind}: {', '.join(installed) or 'none'}"]
    failed = sorted({failure.distribution for failure in registry.failures})
    if failed:
        parts.append(f"these failed to load and may provide it: {', '.join(failed)} (`invprob plugins` says why)")
    else:
        parts.append("install the plugin distribution that provides it (`invprob plugins` lists what is installed)")
    return "; ".join(parts)
