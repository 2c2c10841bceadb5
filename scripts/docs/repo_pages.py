"""Markdown files of the repository as pages of the documentation site, their links resolved.

The README, CONTRIBUTING and every plugin's README stay where they are (one source, read on
GitHub and in an editor) and become site pages at build time (``gen_pages.py``). A relative
link in them names a file of the repository; on the site it must name that file's page, or
the file itself served beside the pages. :func:`site_path` says where a repository file lives
on the site and :class:`LinkRewriter` rewrites one page's links, collecting the further files
they reach (a model card, a benchmark's result, a source file) so those are served too.
"""

from __future__ import annotations

import posixpath
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package (requirements/docs.txt)
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
"""The repository's root (this file is ``scripts/docs/repo_pages.py``)."""

DOCS = "docs"
"""The site's ``docs_dir`` in the repository (mkdocs.yml)."""

GUIDE_PAGES = {"README.md": "guide/using-invprob.md", "CONTRIBUTING.md": "guide/contributing.md"}
"""Top-level Markdown files shown as user-guide pages, and where."""

PLUGIN_ROOTS = ("plugins", "examples")
"""Where the plugin distributions are: each folder with a pyproject.toml and a README.md."""

_LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")  # the "](target)" of a link or image
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE = re.compile(r"(`+).*?\1")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


class LinkError(ValueError):
    """A relative link in a repository page that names no file of the repository."""


@dataclass(frozen=True)
class Plugin:
    """A plugin distribution of the repository: its folder, name and README's site page."""

    folder: str  # "plugins/operators/imaging", relative to the repository
    distribution: str  # "invprob-plugin-imaging"
    description: str

    @property
    def page(self) -> str:
        return site_path(f"{self.folder}/README.md")


def plugins() -> list[Plugin]:
    """Every plugin distribution of the repository with a README, sorted by folder."""
    found = []
    for root in PLUGIN_ROOTS:
        for pyproject in sorted((REPO / root).rglob("pyproject.toml")):
            folder = pyproject.parent
            if (folder / "README.md").is_file() and not any(p.startswith(".") for p in folder.relative_to(REPO).parts):
                project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
                found.append(Plugin(folder.relative_to(REPO).as_posix(), project["name"], project.get("description", "")))
    return found


def site_path(repo_path: str) -> str:
    """Where the repository file ``repo_path`` (POSIX, relative to the root) is on the site:
    ``docs/x`` is ``x``, a folder's README.md is its index page, the top-level guides are under
    ``guide/``, and any other file keeps its path."""
    if repo_path in GUIDE_PAGES:
        return GUIDE_PAGES[repo_path]
    if repo_path.startswith(f"{DOCS}/"):
        return repo_path[len(DOCS) + 1 :]
    path = PurePosixPath(repo_path)
    return str(path.with_name("index.md")) if path.name == "README.md" else repo_path


@dataclass
class LinkRewriter:
    """Rewrites the relative links of repository Markdown files for their site pages.

    ``reached`` collects the repository files the rewritten links name that are not in the
    docs folder: the caller serves them (Markdown ones as pages, rewritten in turn).
    """

    reached: set[str] = field(default_factory=set)

    def rewrite(self, repo_path: str, text: str) -> str:
        """``text`` of the repository file ``repo_path`` with every relative link (outside code)
        made relative to the page's place on the site; raises :class:`LinkError` for a link to
        a file that does not exist, naming the file and the link."""
        lines, fenced = [], False
        for line in text.splitlines(keepends=True):
            if _FENCE.match(line):
                fenced = not fenced
            if not fenced:
                line = self._outside_code(line, lambda t: _LINK.sub(lambda m: m[1] + self._target(repo_path, m[2]) + m[3], t))
            lines.append(line)
        return "".join(lines)

    @staticmethod
    def _outside_code(line: str, change) -> str:
        """``line`` with ``change`` applied to the text outside its inline code spans."""
        pieces, last = [], 0
        for code in _CODE.finditer(line):
            pieces += [change(line[last : code.start()]), code[0]]
            last = code.end()
        return "".join(pieces + [change(line[last:])])

    def _target(self, repo_path: str, link: str) -> str:
        if _SCHEME.match(link) or link.startswith(("#", "/")):
            return link
        target, hash_, fragment = link.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), target))
        if resolved.startswith(f"{DOCS}/") and repo_path.startswith(f"{DOCS}/"):
            return link  # from the docs folder into it (generated pages too): mkdocs checks the link
        file = REPO / resolved
        if resolved.startswith("../") or not file.exists():
            raise LinkError(f"{repo_path}: the link {link!r} names {resolved}, which is not a file of the repository")
        if file.is_dir():
            if not (file / "README.md").is_file():
                raise LinkError(f"{repo_path}: the link {link!r} names the folder {resolved}, which has no README.md")
            resolved = f"{resolved}/README.md"
        if not resolved.startswith(f"{DOCS}/"):
            self.reached.add(resolved)
        here = posixpath.dirname(site_path(repo_path)) or "."
        return posixpath.relpath(site_path(resolved), here) + hash_ + fragment
