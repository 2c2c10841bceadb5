"""The documentation site: ``mkdocs build --strict`` passes, writes nothing into the checkout,
and its pages work in a real browser with no internet.

One build for the module (``mkdocs build --strict`` into a temporary folder, notebooks not
executed: their execution is tested beside them), served by Python's http.server in a thread;
headless Chromium then opens the home page, two API pages, every notebook and gallery page,
refusing every request to another host, and checks that nothing went wrong and every image
was decoded.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import invprob
from invprob_plugin_describe import component_params
from invprob.registry import Registry, default_registry
from invprob.testing.browser import headless_chromium, load_page

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="the site needs requirements/docs.txt")


def build_site(out: Path, root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the checkout at ``root`` into ``out``, notebooks not executed."""
    quiet = {"DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}  # the plugins' banners about MkDocs 2
    env = {**os.environ, **quiet, "INVPROB_DOCS_EXECUTE": "false"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(root / "mkdocs.yml"), "-d", str(out)]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)


def warnings_of(build: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines of a build's output that failed it: mkdocs' warnings and errors, a traceback's last line."""
    lines = (build.stdout + build.stderr).splitlines()
    named = [line for line in lines if re.match(r"^(WARNING|ERROR)\b", line) or "Error:" in line]
    return named or lines[-5:]


def _status() -> str | None:
    """What git sees changed in the checkout (untracked files included, ignored ones not);
    None outside a git checkout."""
    status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return status.stdout if status.returncode == 0 else None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The built site (one build for the module), after checking that the build passed
    strictly and left the checkout as it was."""
    out = tmp_path_factory.mktemp("site")
    before = _status()
    started = time.perf_counter()
    build = build_site(out)
    print(f"mkdocs build --strict: {time.perf_counter() - started:.1f} s")
    assert build.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(warnings_of(build))
    assert _status() == before, "the site build wrote into the checkout"
    yield out


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site served over http on a free local port; its base URL."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_the_site_has_the_reference_guide_and_plugin_pages(site: Path) -> None:
    """What the nav promises is there: the façade's names, the kernel/application reference, a
    components page with describe's params table, the README and CONTRIBUTING as pages, every
    plugin README."""
    reference = (site / "reference" / "index.html").read_text()
    assert "Kernel" in reference and "Application" in reference and "Not for plugins" in reference
    facade = (site / "reference" / "invprob" / "index.html").read_text()
    functions = [name for name in invprob.__all__ if name not in ("hookimpl", "__version__")]  # those two have no docstring
    assert functions and [name for name in functions if f'id="invprob.{name}"' not in facade] == []  # wherever they live
    for module, section in ((Registry.__module__, "Kernel"), (invprob.main.__module__, "Application")):
        assert f">{module}<" in reference.split(f">{section}</strong>")[1].split("</li>")[0]  # listed in its section
        assert (site / "reference" / module / "index.html").is_file()
    imaging = (site / "reference" / "components" / "invprob-plugin-imaging" / "index.html").read_text()
    for param in component_params(default_registry().get("operators", "inpaint-center")):
        assert f"<code>{param.name}</code>" in imaging
    import invprob_plugin_deepinv

    deepinv = (site / "reference" / "components" / "invprob-plugin-deepinv" / "index.html").read_text()
    assert all(f'id="invprob_plugin_deepinv.adapter.{name}"' in deepinv for name in invprob_plugin_deepinv.__all__)  # its Python API
    for source, page in (("README.md", "using-invprob"), ("CONTRIBUTING.md", "contributing")):
        headings = re.findall(r"^## (.+)$", (ROOT / source).read_text(), re.MULTILINE)
        html = (site / "guide" / page / "index.html").read_text()
        assert headings and all(f">{heading}<" in html for heading in headings if "`" not in heading)
    readmes = [p.parent.relative_to(ROOT) for p in (*ROOT.glob("plugins/**/README.md"), *ROOT.glob("examples/*/README.md"))]
    readmes = [folder for folder in readmes if (ROOT / folder / "pyproject.toml").is_file()]
    assert readmes and [folder for folder in readmes if not (site / folder / "index.html").is_file()] == []
    assert list(site.rglob("SUMMARY*")) == []  # the generated nav files make the nav, not pages (scripts/docs/hooks.py)


class _Links(HTMLParser):
    """The ``href`` and ``src`` values of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


def test_every_link_inside_the_site_names_a_file_of_it(site: Path) -> None:
    """Every relative link or source on every built page (notebooks and raw HTML included,
    which mkdocs does not check) names a file the site has."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for url in parser.urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # another site's, or an anchor on this page
            target = (site / unquote(parts.path).lstrip("/")) if parts.path.startswith("/") else page.parent / unquote(parts.path)
            if parts.path.endswith("/") or target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {url}")
    assert broken == []


def _docs_script(name: str):
    """A module of ``scripts/docs/`` (the site's build-time code), imported by path."""
    sys.path.insert(0, str(ROOT / "scripts" / "docs"))
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


def test_repository_links_are_rewritten_for_their_pages_and_code_is_left_alone() -> None:
    """A plugin README's links name the pages of their targets, relative to the README's page;
    links shown as code (inline or fenced) stay as written; files that are not pages are served."""
    repo_pages = _docs_script("repo_pages")
    rewriter = repo_pages.LinkRewriter()
    text = ("For [invprob](../../../README.md), [the guide](../../../docs/solvers.md#top) and "
            "[its code](invprob_plugin_csgm/__init__.py); `[code](nowhere.md)`.\n"
            "```md\n[fenced](nowhere.md)\n```\n")  # fmt: skip
    page = rewriter.rewrite("plugins/solvers/csgm/README.md", text)
    assert repo_pages.site_path("plugins/solvers/csgm/README.md") == "plugins/solvers/csgm/index.md"
    assert "[invprob](../../../guide/using-invprob.md)" in page and "[the guide](../../../solvers.md#top)" in page
    assert "[its code](invprob_plugin_csgm/__init__.py)" in page
    assert "`[code](nowhere.md)`" in page and "[fenced](nowhere.md)" in page
    assert rewriter.reached == {"README.md", "plugins/solvers/csgm/invprob_plugin_csgm/__init__.py"}
    with pytest.raises(repo_pages.LinkError, match=r"README.md: the link 'gone.md' names plugins/solvers/csgm/gone.md"):
        rewriter.rewrite("plugins/solvers/csgm/README.md", "[x](gone.md)")


def test_docstrings_read_as_markdown() -> None:
    """Sphinx roles become code (linked when they name our objects in full), a doctest block a
    fenced block without its doctest flags, ``::`` a colon."""
    markdown = _docs_script("griffe_rst").markdown
    text = "See :class:`invprob.registry.Registry` and :func:`helper`.\n\n>>> x[\"a\"][\"b\"]  # doctest: +SKIP\n\nIn code::\n\n    f()"
    assert markdown(text) == (
        'See <autoref identifier="invprob.registry.Registry" optional><code>invprob.registry.Registry</code></autoref>'
        " and `helper`.\n\n```pycon\n>>> x[\"a\"][\"b\"]\n```\n\nIn code:\n\n    f()"
    )


def test_a_broken_link_fails_the_build_and_names_it(tmp_path: Path) -> None:
    """A README link to a file that does not exist stops the strict build with the file and
    the link named (a copy of the checkout, one link broken)."""
    copy = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in files.stdout.splitlines():
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, copy / name)
    readme = copy / "plugins" / "solvers" / "csgm" / "README.md"
    readme.write_text(readme.read_text() + "\nSee [the missing page](../../../docs/no-such-page.md).\n")
    build = build_site(tmp_path / "site", root=copy)
    assert build.returncode != 0
    assert any("plugins/solvers/csgm/README.md" in line and "no-such-page.md" in line for line in warnings_of(build))


GALLERY = sorted(f"gallery/{p.stem}/" if p.stem != "index" else "gallery/" for p in (ROOT / "docs" / "gallery").glob("*.md"))
"""Every gallery page: their images are the site's (the gallery's study wrote them)."""
NOTEBOOKS = sorted(f"notebooks/{p.stem}/" for p in (ROOT / "docs" / "notebooks").glob("*.py"))
"""Every notebook page: mkdocs-jupyter's template and the notebooks' maths."""


UNTYPESET_TEX = r"""async () => {
    if (window.MathJax && window.MathJax.startup) await window.MathJax.startup.promise;
    return [...document.querySelectorAll(".jp-RenderedMarkdown")]
        .map(cell => cell.innerText).filter(text => /\$[^$\s][^$]*\$/.test(text));
}"""
"""The text of notebook cells that still shows TeX between dollars once MathJax is done."""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module (skips without one, unless INVPROB_REQUIRE_BROWSER=1)."""
    with headless_chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("page", ["", "reference/invprob/", "reference/components/invprob-plugin-imaging/", *NOTEBOOKS, *GALLERY])
def test_pages_load_offline_in_headless_chromium(browser: object, served: str, page: str) -> None:
    """The home page, API pages, the notebooks and the gallery load with no console error, no failed request
    and nothing fetched from the internet, and every image on them is decoded."""
    loaded = load_page(browser, served + page)
    title = loaded.page.title()
    untypeset = loaded.page.evaluate(UNTYPESET_TEX)
    loaded.page.close()
    assert loaded.problems == []
    assert untypeset == []  # the notebooks' TeX, typeset by the site's own MathJax
    assert [src for src, width in loaded.images if width == 0] == []
    if page in GALLERY and page != "gallery/":
        assert loaded.images, f"the gallery page {page} shows no reconstruction"
    assert title.endswith("invprob")
