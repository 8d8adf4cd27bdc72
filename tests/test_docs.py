"""The docs site's sources stay complete: every module in the API reference, every gallery name a real example.

(Building the site needs the ``docs`` extra: ``make docs``, which CI runs; these checks need nothing.)
"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "selfassembly"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__" or any(p.startswith("_") and p != "__init__" for p in parts):
            continue
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_public_module_is_in_the_api_reference():
    listed = set(re.findall(r"^\.\. automodule:: (\S+)", (ROOT / "docs" / "api.rst").read_text(), re.M))
    modules = set(_modules()) - {"selfassembly"}  # the top-level package holds only __version__
    assert modules - listed == set(), "add an automodule line to docs/api.rst for each"
    assert listed - modules == set(), "docs/api.rst names modules that do not exist"


def test_the_gallery_order_names_existing_examples():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gallery_args", ROOT / "docs" / "gallery_args.py")
    gallery_args = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery_args)
    examples = {p.name for p in (ROOT / "examples").glob("*.py")}
    assert set(gallery_args.ORDER) <= examples
    key = gallery_args.GalleryOrder(str(ROOT / "examples"))
    ordered = sorted(examples, key=key)
    assert ordered[: len(gallery_args.ORDER)] == [n for n in gallery_args.ORDER if n in examples]
    # an example not listed (a new one) still gets into the gallery, after the listed ones
    assert key("new_example.py") > key(gallery_args.ORDER[-1])
