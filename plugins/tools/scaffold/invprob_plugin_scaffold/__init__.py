"""``invprob new-plugin``: write a complete, installable plugin distribution to start from.

The command is this distribution's, ``invprob-plugin-scaffold`` (registered through the
commands hook, :mod:`invprob_plugin_scaffold.plugin`); without it, ``invprob new-plugin``
says which distribution to install.

The skeleton is one working component of the chosen kind, its params model and hook, a README,
a ``pyproject.toml`` that installs as written (version, ``invprob-core`` bounds, a ``test``
extra) and tests that run invprob's conformance suite on it::

    invprob new-plugin my-blur --kind operator
    pip install -e './invprob-plugin-my-blur[test]'
    pytest invprob-plugin-my-blur

Templates are the files under ``templates/`` (``common/`` plus one folder per kind), with
``$name``-style placeholders (:class:`string.Template`) and ``__package__`` in paths.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from invprob import __version__

KINDS = ("operator", "generator", "prior", "solver")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class PluginNames:
    """The names a plugin called ``name`` uses: component, distribution, package."""

    name: str

    @property
    def distribution(self) -> str:
        return f"invprob-plugin-{self.name}"

    @property
    def package(self) -> str:
        return f"invprob_plugin_{self.name.replace('-', '_')}"

    @property
    def class_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))


def check_name(name: str) -> str:
    """``name`` if it makes a valid component and distribution name, else a ``ValueError``
    saying what a name may contain."""
    if name.startswith("invprob-plugin-"):
        name = name[len("invprob-plugin-") :]
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"plugin name {name!r}: use lowercase letters and digits in words joined by '-', "
            "starting with a letter (e.g. 'my-blur'); the distribution becomes invprob-plugin-<name>"
        )
    return name


def core_requirement() -> str:
    """``invprob-core>=X.Y,<X.(Y+1)``: the minor series of the installed core."""
    major, minor = (int(part) for part in __version__.split(".")[:2])
    return f"invprob-core>={major}.{minor},<{major}.{minor + 1}"


def render_plugin(name: str, kind: str) -> dict[str, str]:
    """The skeleton's files, relative path -> text, for a plugin ``name`` of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    names = PluginNames(check_name(name))
    values = {
        "name": names.name,
        "distribution": names.distribution,
        "package": names.package,
        "Class": names.class_prefix,
        "kind": kind,
        "Kind": kind.capitalize(),
        "kinds": f"{kind}s",
        "core_requirement": core_requirement(),
    }
    root = resources.files(__package__) / "templates"
    files: dict[str, str] = {}
    for folder in ("common", kind):
        base = root / folder
        for path, text in _templates(base):
            target = path.replace("__package__", names.package).removesuffix(".tmpl")
            files[target] = string.Template(text).substitute(values)
    return files


def _templates(base) -> list[tuple[str, str]]:  # base: importlib.resources Traversable
    """``(relative path, text)`` of every ``.tmpl`` file under ``base``."""
    found = []
    stack = [(base, "")]
    while stack:
        folder, prefix = stack.pop()
        for entry in folder.iterdir():
            relative = f"{prefix}{entry.name}"
            if entry.is_dir():
                stack.append((entry, relative + "/"))
            elif entry.name.endswith(".tmpl"):
                found.append((relative, entry.read_text(encoding="utf-8")))
    return sorted(found)


def write_plugin(name: str, kind: str, out: Path) -> list[Path]:
    """Write the skeleton into ``out`` (which must not exist yet); the files written."""
    files = render_plugin(name, kind)
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose another --out or remove it")
    written = []
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
