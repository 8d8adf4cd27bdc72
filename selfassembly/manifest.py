"""The manifest of a committed result: how to make it again.

Every folder of results under ``benchmarks/results/`` and ``docs/`` holds a ``manifest.json``
written by the script that made it (:func:`write_manifest`):

``command``
    the exact command line (``python benchmarks/<script>.py ...``, or ``selfassembly sweep ...``),
    run from the repository root;
``code_version``
    the git commit of the checkout, and whether it had uncommitted changes (``dirty``);
``settings``
    every setting of the run with its default resolved (the parsed arguments and the script's
    fixed grids);
``wall_s``, ``started``
    the wall time of the run in seconds, and when it started (UTC);
``machine``
    host name, cores, platform and the versions of Python, numpy and Brian2;
``reproduce``
    optional: the cheap slice ``make reproduce`` (``tools/reproduce.py``) reruns and what it
    compares, with the tolerance;
``earlier_calls``
    optional: for a result that resumed an interrupted run, the command, start, wall time and
    code version of each earlier call into the folder (:func:`earlier_calls`); ``wall_s`` is
    then this call's alone.

A manifest written after the fact for an older result names the fields it could not know in
``unknown`` (their values are then the string ``"unknown"``).
"""
from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import json

from .errors import InputError
from .io import to_jsonable, write_json

__all__ = ["MANIFEST", "code_version", "machine", "write_manifest", "read_manifest", "earlier_calls"]

#: the file name of a result folder's manifest
MANIFEST = "manifest.json"
UNKNOWN = "unknown"


def code_version(path=None):
    """The git commit of the checkout holding ``path`` (default: this package) and whether it is dirty.

    Returns ``{"commit": UNKNOWN, "dirty": UNKNOWN}`` outside a git checkout (an installed copy).
    """
    where = Path(path or __file__).resolve()
    where = where if where.is_dir() else where.parent
    try:
        commit = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True, timeout=30).stdout.strip()
        status = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": UNKNOWN, "dirty": UNKNOWN}
    return {"commit": commit, "dirty": bool(status.strip())}


def machine():
    """Host, cores available to this process, platform and library versions."""
    import numpy as np

    try:
        import brian2 as b2
        brian2_version = b2.__version__
    except ImportError:  # pragma: no cover - brian2 is a dependency
        brian2_version = UNKNOWN
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"node": platform.node(), "cores": cores, "processor": platform.processor() or platform.machine(),
            "platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
            "brian2": brian2_version}


def write_manifest(out, script, argv, settings, started, reproduce=None, program=None, **extra):
    """Write ``out/manifest.json`` for a run of ``script`` that began at ``started`` (``time.time()``).

    Parameters
    ----------
    out : path-like
        The result folder.
    script : path-like
        The script that made it (its path relative to the repository root goes into ``command``),
        or, with ``program``, a file of the checkout whose code version is recorded.
    argv : list of str or None
        The arguments it was given (``None``: ``sys.argv[1:]``).
    program : str, optional
        The command that was run instead of ``python <script>`` (``"selfassembly"`` for the
        package's command line: ``command`` is then ``selfassembly <argv>``).
    settings : dict
        Every setting, defaults resolved (e.g. ``vars(args)`` plus the script's fixed grids).
    started : float
        ``time.time()`` when the run began; the wall time is measured up to this call.
    reproduce : dict, optional
        The slice ``make reproduce`` reruns (see ``tools/reproduce.py``).
    **extra
        More fields to record.
    """
    script = Path(script).resolve()
    argv = list(sys.argv[1:] if argv is None else argv)
    words = [program] if program else ["python", str(script.relative_to(script.parents[1]))]
    manifest = {"command": shlex.join(words + argv),
                "code_version": code_version(script), "settings": to_jsonable(settings),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "wall_s": round(time.time() - started, 1), "machine": machine(), **extra}
    if reproduce is not None:
        manifest["reproduce"] = to_jsonable(reproduce)
    write_json(Path(out) / MANIFEST, manifest)
    return manifest


def read_manifest(folder):
    """The manifest of a result folder, as a dict."""
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist: rerun the script that made {folder}, "
                         "which writes its manifest") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path} is not valid JSON ({e}): restore it from git") from None


def earlier_calls(folder):
    """The calls that wrote into ``folder`` before this one, read from its manifest: a list of
    ``{command, started, wall_s, code_version}`` (its own ``earlier_calls`` first), or ``[]``
    where there is no readable manifest or it was written after the fact."""
    try:
        m = read_manifest(folder)
    except InputError:
        return []
    if m.get("written_after_the_fact") or "command" not in m:
        return []
    here = {k: m.get(k) for k in ("command", "started", "wall_s", "code_version")}
    return [*m.get("earlier_calls", []), here]
