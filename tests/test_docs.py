"""README.md and docs/*.md name only what exists: every ``probdeg.x.y`` resolves, every repository path in backticks
is in the tree, every link to a page (and to a heading on it) lands; the results' figures live in docs/RESULTS.md
(README, preset comments and CLI help link there instead of quoting dB)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

DOTTED = re.compile(r"\bprobdeg(?:\.[A-Za-z_]\w*)+")
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
REPO_PATH = re.compile(r"(?<![\w./$~-])(?:probdeg|integrations|tests|studies|benchmarks|docs|examples)/[\w./*-]*")
OUTPUTS = ("studies/out/", "benchmarks/out/")  # what the scripts write (git ignores them), not part of the tree
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PAGE_ANCHOR = re.compile(r"\bdocs/([\w-]+\.md)#([\w-]+)")
DB_FIGURE = re.compile(r"[+-]?\d+\.\d+ ?dB\b")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _found(pattern: re.Pattern, spans) -> list[tuple[str, str]]:
    """(what, which page) for every match, each once."""
    seen: dict[str, str] = {}
    for page, text in spans:
        for match in pattern.findall(text):
            seen.setdefault(match, page)
    return sorted(seen.items())


def _code_spans():
    for page in DOCS:
        for span in CODE.finditer(_text(page)):
            yield page.name, span.group(0)


def _resolve(name: str) -> None:
    """Import the longest importable module prefix of ``name``, then look the rest up as attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name and (module_name == err.name or module_name.startswith(err.name + ".")):
                continue  # not a module: an attribute of a shorter prefix
            raise  # a module that exists but cannot import (a missing dependency): a real failure
        for attr in parts[cut:]:
            obj = getattr(obj, attr)  # AttributeError: the name is gone
        return


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", _text(page), flags=re.S)
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        slug, n = _slug(heading), 1
        while slug in anchors:
            slug = f"{_slug(heading)}-{n}"
            n += 1
        anchors.add(slug)
    return anchors


DOTTED_NAMES = _found(DOTTED, ((p.name, _text(p)) for p in DOCS))
PATHS = [(path.rstrip("."), page) for path, page in _found(REPO_PATH, _code_spans())
         if not path.startswith(OUTPUTS)]


def test_the_docs_name_something():
    assert DOTTED_NAMES and PATHS


@pytest.mark.parametrize(("name", "page"), DOTTED_NAMES, ids=[name for name, _ in DOTTED_NAMES])
def test_dotted_names_exist(name, page):
    try:
        _resolve(name)
    except AttributeError as err:
        pytest.fail(f"{page} names {name}, which does not exist ({err})")


@pytest.mark.parametrize(("path", "page"), PATHS, ids=[path for path, _ in PATHS])
def test_repo_paths_exist(path, page):
    # docs/architecture.md's module tables name the package's modules from inside probdeg/
    candidates = [ROOT, ROOT / "probdeg"]
    if any(ch in path for ch in "*?["):
        assert any(any(base.glob(path)) for base in candidates), f"{page} names {path}: nothing matches"
    else:
        assert any((base / path).exists() for base in candidates), f"{page} names {path}, which is not in the tree"


def _links():
    for page in DOCS:
        for target in LINK.findall(_text(page)):
            if not re.match(r"[a-z]+:", target):  # http(s):, mailto:
                yield page, target


@pytest.mark.parametrize(("page", "target"), list(_links()), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_links_land(page, target):
    file, _, anchor = target.partition("#")
    dest = (page.parent / file).resolve() if file else page
    assert dest.exists(), f"{page.name} links to {target}: no such file"
    if anchor and dest.suffix == ".md":
        assert anchor in _anchors(dest), f"{page.name} links to {target}: no such heading on {dest.name}"


def _commented_sources():
    for pattern in ("probdeg/**/*.py", "probdeg/presets/**/*.yml", "integrations/**/*.yml", "integrations/**/*.py"):
        yield from ROOT.glob(pattern)


def test_section_references_in_code_land():
    """``docs/PAGE.md#heading`` in a comment or a help text points at a heading that is there."""
    bad = []
    for source in _commented_sources():
        for page, anchor in PAGE_ANCHOR.findall(_text(source)):
            dest = ROOT / "docs" / page
            if not dest.exists() or anchor not in _anchors(dest):
                bad.append(f"{source.relative_to(ROOT)}: docs/{page}#{anchor}")
    assert not bad, bad


def test_results_figures_are_not_quoted_outside_the_results_pages():
    """PSNR gains are measured in docs/RESULTS.md (with its history and investigations); elsewhere they go stale."""
    sources = [ROOT / "README.md", ROOT / "probdeg/demo/plan.py", *sorted((ROOT / "probdeg/cli").glob("*.py")),
               *sorted((ROOT / "probdeg/presets").glob("**/*.yml")),
               *sorted((ROOT / "integrations/basicsr/options").glob("*.yml"))]
    quoted = [f"{s.relative_to(ROOT)}: {m}" for s in sources for m in DB_FIGURE.findall(_text(s))]
    assert not quoted, quoted


def test_the_module_map_names_every_module():
    """docs/architecture.md matches the tree: every module of probdeg/ (but the commands, one row for cli/) is named."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    package = ROOT / "probdeg"
    missing = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative.startswith(("cli/", "presets/")):
            continue
        if f"`{relative}`" not in text and f"`{path.name}`" not in text:
            missing.append(relative)
    assert missing == [], f"modules docs/architecture.md does not name: {missing}"
