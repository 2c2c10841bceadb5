"""A griffe extension for the API reference: the reStructuredText habits of our docstrings
read as Markdown.

The docstrings are written to be read in an editor and by ``help()``: Sphinx roles
(``:class:`invprob.registry.Registry```), doctest blocks (``>>> invprob.run(recipe)``) and
literal blocks introduced by ``::``. Markdown would show the roles' markup and read a doctest's
``["mean"]["psnr"]`` as a link; here a role becomes inline code (a link to the object's page
when it names one of ours in full), a doctest block a fenced
``pycon`` block (without its ``# doctest:`` flags) and ``::`` a colon before the indented code.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|data|attr|exc|obj|const|ref|term):`~?([^`]+)`")
_FLAGS = re.compile(r"\s*#\s*doctest:.*$")


def _reference(role: re.Match[str]) -> str:
    """A role as inline code, linked to the object's reference where it names one of ours by
    its full name (an optional cross-reference: nothing is said when the name is not found)."""
    name = role[1]
    if not name.startswith("invprob."):
        return f"`{name}`"
    return f'<autoref identifier="{name}" optional><code>{html.escape(name)}</code></autoref>'


def markdown(text: str) -> str:
    """``text`` (a docstring) with Sphinx roles, doctest blocks and ``::`` made Markdown."""
    text = _ROLE.sub(_reference, text)
    out: list[str] = []
    fence: str | None = None  # the closing fence of the doctest block being read
    for line in text.splitlines():
        if fence is None and line.lstrip().startswith(">>>"):
            fence = line[: len(line) - len(line.lstrip())] + "```"
            out.append(fence + "pycon")
        elif fence is not None and not line.strip():
            out.append(fence)
            fence = None
        if fence is not None:
            line = _FLAGS.sub("", line)
        elif line.rstrip().endswith("::"):
            line = line.rstrip()[:-1]
        out.append(line)
    if fence is not None:
        out.append(fence)
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    """Rewrites every docstring with :func:`markdown` once it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
