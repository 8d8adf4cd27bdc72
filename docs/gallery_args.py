"""The command line each gallery example gets when the docs are built (``reset_argv`` of sphinx-gallery).

Every example takes ``--quick`` (seconds instead of minutes; without it the
script runs the full version); examples that write files also take
``--out DIR``, which here is a folder under docs/_build, so that building the
docs never writes into examples/.

Adding an example: a script in examples/ whose docstring starts with an RST
title (underlined with ``=``) and says what the full version costs; it takes
``--quick`` (and ``--out DIR`` if it writes files), leaves its figures open
(the gallery collects open figures as its thumbnails and images), and keeps
work that starts processes (Dask) under ``if __name__ == "__main__":``. Give it
a test in tests/test_examples.py (test_every_example_has_a_test asks for one)
and its place in :data:`ORDER` (unlisted examples come last).
"""
from pathlib import Path

OUT = Path(__file__).resolve().parent / "_build" / "gallery_output"


def reset_argv(gallery_conf, script_vars):
    src = Path(script_vars["src_file"])
    args = ["--quick"]
    if '"--out"' in src.read_text():
        out = OUT / src.stem
        out.mkdir(parents=True, exist_ok=True)
        args += ["--out", str(out)]
    return args


#: the gallery's reading order; an example not listed here comes after these, by file name
ORDER = [
    "default_experiment.py",
    "verdict_across_seeds.py",
    "reconstruction.py",
    "lesions.py",
    "build_and_inspect_circuit.py",
    "circuit_graph.py",
    "physiology_comparison.py",
    "phase_diagram.py",
    "dynamic_mode.py",
    "own_dataset.py",
]


class GalleryOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: :data:`ORDER`, then the rest by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        return (ORDER.index(name), name) if name in ORDER else (len(ORDER), name)

    def __repr__(self):  # sphinx-gallery caches the configuration by its repr
        return "GalleryOrder"
