"""What runs on a Dask worker: one (point, preset) run, and a point's training plots.

Dask sends the workers references to these functions (``selfassembly.sweep.tasks.run_task``),
so the package must be importable where they run. A worker keeps its data set and its
compiled cpp_standalone binaries between tasks (``_WORKER_STATE``).
"""
from __future__ import annotations

import os

from ..config import ExperimentConfig

__all__ = ["run_task", "render_plots"]

#: per worker process: the data set in use and the cpp_standalone binaries
_WORKER_STATE = {}


def _worker_data(config):
    """The data set of ``config`` (:func:`~selfassembly.experiment.load_run_data`: its task's teacher
    signals, cut to max_train), loaded once per worker process and configuration of the data."""
    from ..experiment import load_run_data

    key = (config.dataset, config.label_column, config.task, config.test_fraction, config.seed, config.mnist_dir,
           config.max_train)
    cache = _WORKER_STATE.setdefault("data", {})
    if key not in cache:
        data = load_run_data(config)
        cache.clear()  # one data set at a time: sweeps rarely vary the data
        cache[key] = data
    return cache[key]


def run_task(config_dict, preset, make_jobs=1):
    """One (point, preset) on a worker: train and return the results to the client.

    Parameters
    ----------
    config_dict : dict
        The point's configuration (:meth:`~selfassembly.config.ExperimentConfig.to_dict`).
    preset : str
    make_jobs : int
        Parallel compile jobs for cpp_standalone.

    Returns
    -------
    dict
        ``result`` (a :class:`~selfassembly.experiment.PresetResult`),
        ``host``, ``pid``, and ``compiles``/``compile_s``/``reused`` of this
        task (cpp_standalone).
    """
    from ..binaries import StandaloneBinaries
    from ..experiment import run_preset

    config = ExperimentConfig.from_dict(config_dict)
    binaries = None
    if config.target == "cpp_standalone":
        binaries = _WORKER_STATE.get("binaries")
        if binaries is None or binaries.make_jobs != make_jobs:
            binaries = _WORKER_STATE["binaries"] = StandaloneBinaries(make_jobs=make_jobs)
    before = binaries.stats() if binaries else None
    result = run_preset(config, preset, _worker_data(config), progress=None, binaries=binaries)
    out = {"result": result, "host": os.uname().nodename, "pid": os.getpid(), "compiles": 0, "compile_s": 0.0,
           "reused": False}
    if binaries:
        after = binaries.stats()
        out.update(compiles=after["compiles"] - before["compiles"], compile_s=after["compile_s"] - before["compile_s"],
                   reused=after["reuses"] > before["reuses"])
    return out


def render_plots(rows):
    """A point's training plots (``{file name: PNG bytes}``) from its metric rows, on a worker:
    rendering takes most of a second, which the client, sharing the cores, would take from the runs."""
    from ..analysis.plots import training_figures

    return training_figures(rows)
