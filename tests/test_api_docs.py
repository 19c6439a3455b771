"""What a reader of the public API finds: every entry point documented (numpydoc
Parameters, Returns, Examples) with examples that run, annotated, listed by
help(fastmixloss), and dir(fastmixloss) showing the API rather than internal modules."""

import doctest
import inspect
import pathlib

import pytest

import fastmixloss

PUBLIC = [name for name in fastmixloss.__all__
          if callable(getattr(fastmixloss, name))
          and not (inspect.isclass(getattr(fastmixloss, name))
                   and issubclass(getattr(fastmixloss, name), Exception))]


def _sections(obj):
    doc = inspect.getdoc(obj) or ""
    return {title for title in ("Parameters", "Attributes", "Returns", "Examples")
            if f"\n{title}\n{'-' * len(title)}" in f"\n{doc}"}


@pytest.mark.parametrize("name", PUBLIC)
def test_every_entry_point_has_numpydoc_sections(name):
    obj = getattr(fastmixloss, name)
    sections = _sections(obj)
    wanted = {"Examples"}
    if inspect.isclass(obj):
        wanted.add("Parameters" if "Parameters" in sections else "Attributes")
    else:
        wanted |= {"Parameters", "Returns"}
    assert wanted <= sections, f"{name}: missing {sorted(wanted - sections)}"


@pytest.mark.parametrize("name", PUBLIC)
def test_every_example_runs(name):
    obj = getattr(fastmixloss, name)
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(obj, name, globs={})
    assert sum(len(t.examples) for t in tests) > 0, f"{name} has no example"
    for test in tests:
        runner.run(test)
    assert runner.failures == 0, f"{name}: {runner.failures} example(s) failed"


@pytest.mark.parametrize("name", [n for n in PUBLIC
                                  if not inspect.isclass(getattr(fastmixloss, n))])
def test_public_functions_are_annotated(name):
    signature = inspect.signature(getattr(fastmixloss, name))
    assert signature.return_annotation is not inspect.Signature.empty, name
    unannotated = [p.name for p in signature.parameters.values()
                   if p.annotation is inspect.Parameter.empty
                   and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    assert not unannotated, f"{name}: {unannotated} without a type annotation"


def test_the_package_says_it_is_typed():
    assert (pathlib.Path(fastmixloss.__file__).parent / "py.typed").exists()


def test_help_lists_every_entry_point():
    doc = fastmixloss.__doc__
    missing = [name for name in fastmixloss.__all__ if name not in doc]
    assert not missing, f"not in help(fastmixloss): {missing}"
    for mention in ("fastmixloss.reference", "fastmixloss.cuda", "fastmixloss score"):
        assert mention in doc


def test_dir_shows_the_public_api_not_internal_modules():
    shown = set(dir(fastmixloss))
    assert set(fastmixloss.__all__) <= shown
    internal = {"spectral", "engine", "plan", "options", "backend", "kernels", "validation",
                "time_domain", "presets", "startup", "results", "windows", "filterbanks"}
    assert not shown & internal, sorted(shown & internal)
