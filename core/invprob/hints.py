"""Messages that help a user recover from a wrong name: "did you mean" and what is installed.

The registry only knows what is registered; the sentences a user reads when a name is wrong
live here, built from the installed plugins alone (the core keeps no list of plugin names).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from invprob.registry import Registry


def suggest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Close matches of ``word`` among ``candidates``, best first."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


def with_article(word: str) -> str:
    """``word`` with its indefinite article: ``"an operator"``, ``"a loss"``, ``"an int"``.

    By the first letter (a vowel takes "an"): right for the component kinds and type names
    messages name."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def singular(kind: str) -> str:
    """``"losses"`` -> ``"loss"``, ``"solvers"`` -> ``"solver"``."""
    return kind[:-2] if kind.endswith("sses") else kind[:-1]


def component_kind(word: str, kinds: Sequence[str]) -> str:
    """The kind among ``kinds`` (plural names) that ``word`` names, singular or plural:
    ``"operator"`` or ``"operators"`` -> ``"operators"``; a ``ValueError`` naming the kinds else."""
    for kind in kinds:
        if word in (kind, singular(kind)):
            return kind
    raise ValueError(f"unknown component kind {word!r}; expected one of {', '.join(kinds)}")


def unknown_component_message(registry: Registry, kind: str, name: str) -> str:
    """Why ``name`` is not a ``kind`` here: the close installed names, else what is installed.

    Without a close match the message also says what to do: install the plugin that provides
    the name, or look at the plugins that failed to load (one of them may have provided it).

    >>> unknown_component_message(registry, "solvers", "csgn")  # doctest: +SKIP
    "unknown solver 'csgn'; did you mean 'csgm'?"
    """
    what = singular(kind)
    owners = [c.distribution for c in registry.ambiguous[kind].get(name, [])]
    if owners:
        choices = " or ".join(f"'type: {d}:{name}'" for d in owners)
        return (f"{what} {name!r} is ambiguous: it is registered by {' and '.join(owners)}; "
                f"name the one you mean ({choices}) or disable the other with INVPROB_DISABLE_PLUGINS")  # fmt: skip
    distribution, _, plain = name.rpartition(":")
    if distribution:
        providers = [c.distribution for c in registry.ambiguous[kind].get(plain, [])]
        if not providers and plain in registry.components[kind]:
            providers = [registry.components[kind][plain].distribution]
        if providers:
            return (f"no distribution {distribution!r} provides {what} {plain!r}; "
                    f"it is provided by {', '.join(providers)}")  # fmt: skip
        name = plain
    installed = registry.names(kind)
    unknown = f"unknown {what} {name!r}"
    first_party = first_party_message(registry, kind, name)
    if first_party:
        return f"{unknown}: {first_party}"
    close = suggest(name, installed)
    if close:
        return f"{unknown}; did you mean {' or '.join(repr(c) for c in close)}?"
    parts = [unknown, f"installed {kind}: {', '.join(installed) or 'none'}"]
    failed = sorted({failure.distribution for failure in registry.failures})
    excluded = registry.excluded
    if failed:
        parts.append(f"these failed to load and may provide it: {', '.join(failed)} (`invprob plugins` says why)")
    if excluded:
        parts.append(
            f"these are installed but not loaded (INVPROB_LOAD_PLUGINS/INVPROB_DISABLE_PLUGINS) and may provide "
            f"it: {', '.join(excluded)}"
        )
    if not failed and not excluded:
        parts.append("install the plugin distribution that provides it (`invprob plugins` lists what is installed)")
    return "; ".join(parts)


def first_party_message(registry: Registry, kind: str, name: str) -> str | None:
    """Which first-party distribution provides ``name`` and why it is not here: not installed
    (with the pip command), failed to load, switched off, or an older version; None for a
    name this repository does not ship."""
    from invprob.first_party import canonical_distribution_name as canonical
    from invprob.first_party import first_party_distribution

    owner = first_party_distribution(kind, name)
    if owner is None:
        return None
    comes = f"it comes with {owner}"
    if owner in {canonical(failure.distribution) for failure in registry.failures}:
        return f"{comes}, which failed to load (`invprob plugins` says why)"
    if owner in {canonical(excluded) for excluded in registry.excluded}:
        return f"{comes}, which is installed but not loaded (INVPROB_LOAD_PLUGINS/INVPROB_DISABLE_PLUGINS)"
    loaded = {canonical(d.name): d for d in registry.distributions.values()}
    if owner in loaded:
        version = f" {loaded[owner].version}" if loaded[owner].version else ""
        return f"{comes}, but the installed{version} does not provide it: pip install --upgrade {owner}"
    return f"{comes}, which is not installed: pip install {owner}"


def report_plugin_failures(registry: Registry) -> None:
    """Print, on stderr, one warning per plugin that failed to load and per registry warning:
    what every command that loads the plugins says before it does its work."""
    for failure in registry.failures:
        print(f"warning: plugin not loaded: {failure.summary()}", file=sys.stderr)
    for warning in registry.warnings:
        print(f"warning: {warning}", file=sys.stderr)
