"""MkDocs hooks of the site (``hooks:`` in mkdocs.yml).

mkdocs-literate-nav reads the generated ``SUMMARY.md`` files for the navigation and leaves
them as pages of their own (``/reference/SUMMARY/``), listed by search and the sitemap. Once
the nav is made from them they are left out of the site.
"""

from __future__ import annotations

from mkdocs.structure.files import Files, InclusionLevel
from mkdocs.structure.nav import Navigation

NAV_FILE = "SUMMARY.md"


def on_nav(nav: Navigation, config: object, files: Files) -> Navigation:
    for file in files:
        if file.src_uri == NAV_FILE or file.src_uri.endswith(f"/{NAV_FILE}"):
            file.inclusion = InclusionLevel.EXCLUDED
    return nav
