"""Sphinx configuration of the selfassembly documentation site.

Build with ``make docs`` (warnings are errors, broken cross-references included);
the site lands in docs/_build/html. The Markdown pages in this folder are the
source (myst-parser), the API reference comes from the numpydoc docstrings, and
the gallery runs every script in examples/ in its quick version (``--quick``;
see :mod:`gallery_args`).
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # gallery_args, named below by its import path

import selfassembly  # noqa: E402

project = "selfassembly"
author = "the selfassembly authors"
copyright = "2026, the selfassembly authors"
release = version = selfassembly.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "phase_diagram/sweep.md", "lesions/lesions.md", "lesions/runs", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]

# ---- Markdown (the pages in docs/ stay plain Markdown, readable on GitHub too)
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3  # links like guide.md#errors-and-exit-codes

# ---- API reference
# every public name a module defines (not only its __all__, and not the names a package re-exports:
# each object is documented once, in the module that defines it)
autodoc_default_options = {"members": True, "undoc-members": True, "ignore-module-all": True,
                           "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False  # automodule lists the members already
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False  # free-text types ("path, optional", "True, file or None") stay text

# every reference must resolve; the few that cannot are listed with the reason
nitpicky = True
nitpick_ignore = [
    # standard-library modules: the build is offline (CI and fresh clones need no network), so no
    # intersphinx inventory is fetched and references into other projects cannot resolve
    ("py:mod", "argparse"),
    ("py:mod", "tomllib"),
]
# NetworkX functions named in docstrings: likewise no inventory offline
nitpick_ignore_regex = [("py:.*", r"networkx\..*")]

# ---- the gallery: every script of examples/ runs in its quick version
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # run every example, not only plot_*.py
    "reset_argv": "gallery_args.reset_argv",  # --quick and an --out folder under _build
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "gallery_args.GalleryOrder",  # the order of gallery_args.ORDER
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "plot_gallery": "True",
}

# ---- HTML
html_theme = "alabaster"
html_title = f"selfassembly {release}"
html_static_path = []
html_theme_options = {"description": "Brian2 simulator of the self-assembling four-synapse learning circuit",
                      "fixed_sidebar": True}
os.environ.setdefault("MPLBACKEND", "Agg")
