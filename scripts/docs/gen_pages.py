"""Build-time pages (mkdocs-gen-files): the README and CONTRIBUTING as user-guide pages, every
plugin's README as a plugin page, and whatever repository file their links reach.

Nothing is copied into ``docs/``: the sources stay where they are and their relative links are
rewritten for the site (:mod:`repo_pages`). Pages in ``docs/`` that link out of the docs
folder (``../plugins/...``) are rewritten the same way.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import mkdocs_gen_files
from invprob.first_party import PLUGIN_DISTRIBUTIONS

sys.path.insert(0, str(Path(__file__).parent))
from repo_pages import DOCS, GUIDE_PAGES, PLUGIN_ROOTS, REPO, LinkRewriter, plugins, site_path  # noqa: E402


def write_page(rewriter: LinkRewriter, repo_path: str, footer: str = "") -> None:
    """The site page of the repository Markdown file ``repo_path``, its links rewritten and
    ``footer`` (Markdown, links relative to the page) added."""
    text = (REPO / repo_path).read_text(encoding="utf-8")
    rewritten = rewriter.rewrite(repo_path, text) + footer
    if repo_path.startswith(f"{DOCS}/") and rewritten == text:
        return  # a docs page without links out of the docs folder is served as it is
    with mkdocs_gen_files.open(site_path(repo_path), "w", encoding="utf-8") as page:
        page.write(rewritten)


def write_plugin_navigation() -> None:
    """``plugins/index.md`` (every distribution, one line each) and the navigation files that
    mkdocs-literate-nav reads for the Plugins section and the examples."""
    found = plugins()
    with mkdocs_gen_files.open("plugins/index.md", "w", encoding="utf-8") as index:
        index.write("# Plugins\n\nEvery method of invprob lives in a plugin distribution (`pip install NAME`); "
                    "each page below is the distribution's README. Their components, with the params of each, "
                    "are in the [API reference](../reference/components/index.md).\n\n"
                    "| distribution | what |\n|---|---|\n")  # fmt: skip
        for plugin in found:
            index.write(f"| [{plugin.distribution}](../{plugin.page}) | {plugin.description} |\n")
    for root in PLUGIN_ROOTS:
        groups: dict[str, list[str]] = defaultdict(list)
        for plugin in (p for p in found if p.folder.startswith(f"{root}/")):
            parts = Path(plugin.folder).parts
            group = parts[1].capitalize() if len(parts) > 2 else ""
            groups[group].append(f"[{plugin.distribution}]({Path(plugin.page).relative_to(root).as_posix()})")
        lines = ["* [All plugins](index.md)\n"] if root == "plugins" else []
        for group, links in sorted(groups.items(), key=lambda item: (item[0] != "", item[0])):
            lines += [f"* {link}\n" for link in links] if not group else [f"* {group}\n"] + [f"    * {link}\n" for link in links]
        with mkdocs_gen_files.open(f"{root}/SUMMARY.md", "w", encoding="utf-8") as summary:
            summary.writelines(lines)


def main() -> None:
    rewriter, served = LinkRewriter(), set()
    for plugin in plugins():
        root = "../" * len(Path(plugin.folder).parts)  # from the plugin's page to the site's root
        footer = (f"\n\n---\n\nIts components and their params: [API reference]({root}reference/components/{plugin.distribution}.md).\n"
                  if plugin.distribution in PLUGIN_DISTRIBUTIONS else "")  # fmt: skip
        served.add(f"{plugin.folder}/README.md")
        write_page(rewriter, f"{plugin.folder}/README.md", footer)
    for source in [*GUIDE_PAGES, *sorted(p.relative_to(REPO).as_posix() for p in (REPO / DOCS).rglob("*.md"))]:
        served.add(source)
        write_page(rewriter, source)
    while pending := sorted(rewriter.reached - served):  # files the pages link to, and theirs
        for repo_path in pending:
            served.add(repo_path)
            if repo_path.endswith(".md"):
                write_page(rewriter, repo_path)
            else:
                with mkdocs_gen_files.open(site_path(repo_path), "wb") as file:
                    file.write((REPO / repo_path).read_bytes())
    write_plugin_navigation()


main()
