"""Build-time asset (mkdocs-gen-files): MathJax 3, served from the site itself.

The notebooks write their maths in TeX (``$A(G(z)) \\approx y$``) and the site loads nothing from
the internet, so MathJax's single-file SVG build (``tex-svg.js``: no font files to fetch) is
copied out of the ``django-static-mathjax`` distribution (MathJax's release files, no
dependencies; requirements/docs.txt) to ``assets/mathjax/tex-svg.js``.
``docs/assets/mathjax.js`` loads it on the pages that have notebook cells.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mkdocs_gen_files

RELEASE = "static/mathjax/es5/tex-svg.js"


def main() -> None:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the site serves MathJax from django-static-mathjax, which is not installed: "
                           "pip install -r requirements/docs.txt")  # fmt: skip
    source = Path(spec.submodule_search_locations[0]) / RELEASE
    with mkdocs_gen_files.open("assets/mathjax/tex-svg.js", "wb") as target:
        target.write(source.read_bytes())


main()
