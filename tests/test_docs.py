"""The README and the docs/ pages: every ```python block runs, the links resolve, and the
pages speak of the library only.

The blocks of one page run in order in one namespace, as a reader would type them. A
block that cannot run here (it needs a GPU, torch, a file, or a long run) says so on a
line of its own,

    # docs-test: skip (the reason)

and is reported as skipped with that reason; a block without the line must run.
"""

import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
README = REPO / "README.md"
PAGES = [README] + sorted((REPO / "docs").glob("*.md"))
# the folders' own READMEs: checked as pages, their code blocks are commands
ALL_PAGES = PAGES + [REPO / "bench" / "README.md",
                     REPO / "fastmixloss" / "cuda" / "README.md"]
README_MAX_LINES = 300

_PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_SKIP = re.compile(r"^[ \t]*#[ \t]*docs-test:[ \t]*skip[ \t]*\((?P<reason>.+)\)[ \t]*$",
                   re.MULTILINE)
_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
# paths that exist on one machine only: a reader's checkout is anywhere
_MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|Users|root|tmp|mnt)/")


def python_blocks(text):
    """[(line of the block's first code line, code, skip reason or None)] of a page."""
    blocks = []
    for match in _PYTHON_BLOCK.finditer(text):
        code = match.group(1)
        line = text.count("\n", 0, match.start(1)) + 1
        skip = _SKIP.search(code)
        blocks.append((line, code, skip.group("reason").strip() if skip else None))
    return blocks


def run_block(page_name, line, code, namespace):
    """Run one block in `namespace`; a traceback names the page and its own line."""
    exec(compile("\n" * (line - 1) + code, page_name, "exec"), namespace)


def _relative(page):
    return page.relative_to(REPO).as_posix()


BLOCKS = [(page, index) for page in PAGES
          for index in range(len(python_blocks(page.read_text(encoding="utf-8"))))]

# page -> (namespace, index of the next block to run in it)
_namespaces = {}


def _namespace_before(page, index, blocks):
    """The page's namespace once blocks 0 .. index - 1 have run (skipped ones left out).
    Blocks run in file order, so each test normally takes the previous one's namespace;
    a test run alone (-k) replays the blocks before it."""
    namespace, next_index = _namespaces.pop(page, (None, None))
    if next_index != index:
        namespace = {"__name__": "__docs__"}
        for line, code, skip in blocks[:index]:
            if skip is None:
                run_block(_relative(page), line, code, namespace)
    return namespace


@pytest.mark.parametrize(
    "page, index", BLOCKS,
    ids=[f"{_relative(page)}:{python_blocks(page.read_text(encoding='utf-8'))[index][0]}"
         for page, index in BLOCKS])
def test_python_block_runs(page, index):
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    line, code, skip = blocks[index]
    if skip is not None:
        pytest.skip(f"{_relative(page)}:{line}: {skip}")
    namespace = _namespace_before(page, index, blocks)
    run_block(_relative(page), line, code, namespace)
    _namespaces[page] = (namespace, index + 1)


def test_every_page_has_code_to_run_or_none_claimed():
    """The README's quick start is code that runs, not a picture of it."""
    runnable = [code for _, code, skip in python_blocks(README.read_text(encoding="utf-8"))
                if skip is None]
    assert runnable, "README.md has no python block that runs"


def test_a_failing_block_fails_and_a_marked_one_is_skipped():
    page = ("text\n```python\nx = 1\n```\n"
            "```python\n# docs-test: skip (needs a GPU)\nraise RuntimeError\n```\n"
            "```python\nassert x == 2, 'x is 1'\n```\n")
    blocks = python_blocks(page)
    assert [(line, skip) for line, _, skip in blocks] == [(3, None), (6, "needs a GPU"),
                                                         (10, None)]
    namespace = {}
    run_block("page.md", *blocks[0][:2], namespace)
    with pytest.raises(AssertionError, match="x is 1") as failure:
        run_block("page.md", *blocks[2][:2], namespace)
    assert failure.traceback[-1].lineno + 1 == 10   # the page's own line (0-based here)


def _anchors(page):
    """GitHub's anchors of a page's headings."""
    anchors = set()
    for heading in re.findall(r"^#+[ \t]+(.+?)[ \t]*$", page.read_text(encoding="utf-8"),
                              re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", ALL_PAGES, ids=_relative)
def test_links_to_the_repository_resolve(page):
    broken = []
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):   # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f"{_relative(page)}: broken links {broken}"


def test_readme_links_every_docs_page():
    text = README.read_text(encoding="utf-8")
    missing = [_relative(page) for page in PAGES[1:] if f"]({_relative(page)}" not in text]
    assert not missing, f"README.md does not link {missing}"


@pytest.mark.parametrize("page", ALL_PAGES, ids=_relative)
def test_pages_speak_of_the_library_only(page):
    """No document the repository does not hold, no path of one machine."""
    text = page.read_text(encoding="utf-8")
    assert "SPEC.md" not in text and not re.search(r"\bSPEC\b", text), _relative(page)
    paths = _MACHINE_PATH.findall(text)
    assert not paths, f"{_relative(page)}: machine-specific paths {paths}"


def test_readme_is_a_front_door():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; move detail into docs/ (at most {README_MAX_LINES})")
