"""`selfassembly sweep`: validation, the grid, a real sweep on a 2-process LocalCluster, rerun, a killed worker."""
import csv
import json
import os
import shutil
import tomllib
from pathlib import Path

import pytest

from selfassembly.cli import main
from selfassembly.io import write_csv
from selfassembly.config import ConfigError
from selfassembly.sweep import (SweepError, check_points, effective_key, load_sweep, parse_sweep, pending, point_verdicts,
                                sweep_groups, valid_keys, verdict_positive)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
QUICK = EXAMPLES / "sweep_phase_diagram_quick.toml"


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# ---- the sweep file: checked before anything runs ----------------------------------------------
def _sweep(**table):
    return {"training": {"presets": ["four_synapse", "kolen_pollack"]}, "sweep": table}


@pytest.mark.parametrize("table,match", [
    ({"plasticity.eta_cc": [0.1]}, "unknown key 'plasticity.eta_cc'; valid keys: circuit.sizes"),
    ({"eta_c": [0.1]}, "unknown key 'eta_c'; valid keys:"),
    ({"training.seed": [1, 2]}, "seeds have their own list"),
    ({"plasticity.eta_c": []}, "plasticity.eta_c must be a non-empty list"),
    ({"plasticity.eta_c": 0.1}, "plasticity.eta_c must be a non-empty list"),
    ({"plasticity.eta_c": ["fast"]}, "value 'fast' is a string, but plasticity.eta_c takes a number"),
    ({"circuit.sizes": [64, 10]}, "value 64 is a number, but circuit.sizes takes a list"),
    ({"plasticity.eta_c": [-1.0]}, "plasticity.eta_c must be >= 0"),
    ({"training.epochs": [1.5]}, "training.epochs must be a whole number"),
    ({"plasticity.eta_c": [0.001, 0.001]}, "duplicate point: plasticity.eta_c = 0.001"),
    ({"plasticity.eta_c": [1, 1.0]}, "duplicate point"),
    ({"plasticity.eta_c": [0.1], "seeds": []}, "seeds must be a non-empty list"),
    ({"plasticity.eta_c": [0.1], "seeds": [0, 0]}, "seeds must be distinct"),
    ({"plasticity.eta_c": [0.1, 0.2], "plasticity.lam_c": [1.0], "zip": ["plasticity.eta_c", "plasticity.lam_c"]},
     "need lists of one length; got plasticity.eta_c: 2, plasticity.lam_c: 1"),
    ({"plasticity.eta_c": [0.1], "zip": ["plasticity.lam_c"]}, "zip must list swept keys"),
    ({"plasticity.eta_c": [0.1], "reference": "backprop"}, "reference 'backprop' is not among training.presets"),
])
def test_bad_sweep_is_named(table, match):
    with pytest.raises(SweepError, match=match.replace("(", r"\(").replace(".", r"\.")):
        parse_sweep(_sweep(**table))


def test_missing_sweep_table_and_bad_section():
    with pytest.raises(SweepError, match=r"no \[sweep\] table"):
        parse_sweep({"training": {"epochs": 1}})
    with pytest.raises(ConfigError, match=r"unknown section \[circuits\]"):
        parse_sweep({"circuits": {}, "sweep": {"seeds": [0]}})


def test_cli_refuses_bad_file_before_running(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text('[sweep]\n"plasticity.sigma" = [1.0]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(f), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'plasticity.sigma'" in err and "plasticity.sigma_xi" in err
    assert not out.exists()


def test_valid_keys_come_from_the_config():
    keys = valid_keys()
    assert "plasticity.sigma_xi" in keys and "time.tau_r_ms" in keys and "connectivity.U.scale" in keys
    assert "training.presets" not in keys and "training.seed" not in keys


def test_grid_zip_ids_and_quick():
    s = parse_sweep({"circuit": {"sizes": [64, 64, 64, 10]}, "training": {"presets": ["backprop"]},
                     "sweep": {"plasticity.eta": [0.01, 0.02], "plasticity.lam": [0.0, 0.1],
                               "connectivity.W.p": [1.0, 0.5], "zip": ["plasticity.eta", "plasticity.lam"],
                               "seeds": [3, 4]}}, quick=True)
    assert len(s.points) == 2 * 2 * 2 and len(s.axes) == 2
    assert [(p.config.eta, p.config.lam) for p in s.points][:4:2] == [(0.01, 0.0), (0.01, 0.0)]
    assert {(p.config.eta, p.config.lam) for p in s.points} == {(0.01, 0.0), (0.02, 0.1)}
    assert s.points[0].id == "eta=0.01__lam=0.0__p=1.0__seed=3"
    assert {p.config.connectivity["W"]["p"] for p in s.points} == {1.0, 0.5}
    assert all(p.config.sizes == [64, 24, 24, 10] and p.config.epochs == 1 for p in s.points)  # --quick
    assert len({p.id for p in s.points}) == len(s.points)
    # swept keys win over --quick
    s = parse_sweep({"sweep": {"circuit.sizes": [[64, 8, 10], [64, 16, 10]]}}, quick=True)
    assert [p.config.sizes for p in s.points] == [[64, 8, 10], [64, 16, 10]]
    assert s.points[1].id == "sizes=64-16-10__seed=0"


def test_runs_that_ignore_a_parameter_are_simulated_once():
    s = parse_sweep(_sweep(**{"plasticity.sigma_xi": [0.5, 1.0], "seeds": [0, 1]}))
    keys = {(p.id, pr): effective_key(p.config, pr) for p in s.points for pr in s.presets}
    assert len(keys) == 8
    assert len(set(keys.values())) == 2 * 2 + 2  # four_synapse at each point, kolen_pollack once per seed


def test_rows_take_the_difference_to_the_reference_and_the_worst_layer(tmp_path):
    """sweep_rows on constructed summaries: acc_minus_reference is this preset's accuracy minus the reference's
    (same point and seed), ff_angle_worst the largest angle over layers, a run not in the summary is missing."""
    from selfassembly.sweep import sweep_rows

    s = parse_sweep(_sweep(**{"plasticity.eta_c": [0.001, 0.002]}))
    assert s.reference == "kolen_pollack"
    accs = {"four_synapse": [0.62, 0.91], "kolen_pollack": [0.80, 0.85]}
    for k, p in enumerate(s.points):
        presets = {name: {"status": "done", "final_test_acc": a[k], "ff_angle": {"2": 20.0 + k, "3": 47.5 - k},
                          "cross_angle": {"1": 30.0}, "wall_time_s": 1.0} for name, a in accs.items()}
        if k == 1:
            del presets["kolen_pollack"]  # its run is not in yet
        (tmp_path / "points" / p.id).mkdir(parents=True)
        (tmp_path / "points" / p.id / "summary.json").write_text(json.dumps({"presets": presets}))
    rows = {(r["point"], r["preset"]): r for r in sweep_rows(s, tmp_path, verdicts=False)}
    first, second = (p.id for p in s.points)
    assert rows[(first, "four_synapse")]["acc_minus_reference"] == pytest.approx(0.62 - 0.80, abs=1e-12)
    assert rows[(first, "kolen_pollack")]["acc_minus_reference"] == 0
    assert rows[(first, "four_synapse")]["ff_angle_worst"] == 47.5 and rows[(second, "four_synapse")]["ff_angle_worst"] == 46.5
    assert rows[(second, "kolen_pollack")]["status"] == "missing"
    assert rows[(second, "four_synapse")]["acc_minus_reference"] == ""  # no reference at that point


def test_example_files_agree():
    real, quick = (tomllib.loads((EXAMPLES / n).read_text())
                   for n in ("sweep_phase_diagram.toml", "sweep_phase_diagram_quick.toml"))
    assert real["training"] == quick["training"] and real["circuit"] == quick["circuit"]
    assert set(real["sweep"]) == set(quick["sweep"])
    s = load_sweep(EXAMPLES / "sweep_phase_diagram.toml")
    assert s.base.sizes == [64, 64, 64, 64, 10] and s.seeds == [0, 1, 2] and len(s.axes) == 2
    assert s.reference == "kolen_pollack"


# ---- a real sweep: 2 x 2 points x 2 seeds, --quick, 2 worker processes, one of them killed -----
def kill_first_run(marker):
    """A Dask worker plugin that kills its own worker process when the first sweep run starts executing on it.

    Installed on every worker (and on the one that replaces the killed worker); ``marker``, a file the
    first one creates exclusively and writes its pid to, makes it fire once in the whole cluster.
    The class is local so that Dask sends it to the workers by value.
    """
    import signal

    from dask.distributed import WorkerPlugin

    class KillFirstRun(WorkerPlugin):
        def transition(self, key, start, finish, **kwargs):
            if finish != "executing" or not str(key).startswith("selfassembly_run-"):
                return
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)

    return KillFirstRun()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The quick phase diagram on a 2-worker cluster whose first run kills its worker (rerun elsewhere by Dask)."""
    import logging

    from dask.distributed import Client, LocalCluster

    root = tmp_path_factory.mktemp("sweep")
    out, marker = root / "out", root / "killed.pid"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.register_plugin(kill_first_run(str(marker)), name="kill-first-run")
        code = main(["sweep", str(QUICK), "--quick", "--scheduler", cluster.scheduler_address, "--out", str(out)])
    return out, marker, code


def test_sweep_writes_rows_folders_and_diagrams(swept):
    out, _, code = swept
    assert code == 0
    rows = _rows(out / "sweep.csv")
    presets = ["four_synapse", "four_synapse_fixed_u", "four_synapse_fixed_cross", "feedback_alignment",
               "kolen_pollack"]
    assert len(rows) == 8 * 5
    for preset in presets:
        mine = [r for r in rows if r["preset"] == preset]
        assert len(mine) == 8 and {r["status"] for r in mine} == {"done"}
        assert all(0 <= float(r["final_test_acc"]) <= 1 for r in mine)
    for col in ["plasticity.eta_c", "plasticity.eta_u", "seed", "acc_minus_reference", "ff_angle_2", "ff_angle_3",
                "cross_angle_1", "verdict", "wall_time_s"]:
        assert col in rows[0], col
    assert {float(r["acc_minus_reference"]) for r in rows if r["preset"] == "kolen_pollack"} == {0.0}
    # each point is a normal run folder
    points = _rows(out / "points.csv")
    assert len(points) == 8
    for p in points:
        d = out / "points" / p["point"]
        summary = json.loads((d / "summary.json").read_text())
        assert sorted(summary["presets"]) == sorted(presets)
        assert (d / "config.toml").is_file() and (d / "metrics.csv").is_file()
        for name in ("accuracy.png", "alignment.png"):  # rendered by a worker once all of the point's runs were in
            png = d / name
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, png
            assert png.stat().st_mtime >= (d / "summary.json").stat().st_mtime, png
    assert main(["compare", str(out / "points" / points[0]["point"]), "--out", str(out / "cmp")]) == 0
    # fixed_u does not use eta_u, the fixed-cross ablation and kolen_pollack use neither rate
    summary = json.loads((out / "sweep.json").read_text())
    # presets run once per value of what they use: four_synapse 8, fixed_u 4 (no eta_u), the others 2 (seeds)
    assert summary["ran"] == 40 and summary["simulations"] == 8 + 4 + 2 + 2 + 2 and summary["failed"] == 0
    for preset in presets:
        png = out / f"phase_{preset}.png"
        assert png.stat().st_size > 10_000, png
    md = (out / "sweep.md").read_text()
    assert "| eta_c | eta_u | preset | seeds |" in md and md.count("| four_synapse |") == 4


def _reproduce_tool():
    """tools/reproduce.py as a module (``make reproduce``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("reproduce_tool", EXAMPLES.parent / "tools" / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sweep_records_its_manifest_and_its_slice_reproduces(swept, tmp_path):
    """manifest.json: the exact command, every setting with its default resolved, this call's counts and
    wall time; `make reproduce` reruns its slice (one point's four_synapse run) and finds it equal to
    sweep.csv, and a planted difference of one test image in sweep.csv is reported as DRIFTED."""
    from selfassembly.io import to_jsonable
    from selfassembly.manifest import read_manifest

    out = swept[0]
    m = read_manifest(out)
    assert m["command"].startswith(f"selfassembly sweep {QUICK} --quick --scheduler tcp://")
    assert m["command"].endswith(f" --out {out}")
    s = load_sweep(QUICK, quick=True)
    assert m["settings"]["configuration"] == to_jsonable(s.base.to_dict())  # every section, defaults resolved
    assert m["settings"]["configuration"]["circuit"]["sizes"] == [64, 24, 24, 10]  # --quick, resolved
    assert m["settings"]["values"] == s.values and m["settings"]["seeds"] == [0, 1] and m["settings"]["quick"]
    assert m["this_call"]["ran"] == 40 and m["this_call"]["simulations"] == 18 and m["wall_s"] > 0
    assert m["reproduce"]["point"] == s.points[0].id and m["reproduce"]["preset"] == "four_synapse"
    tool = _reproduce_tool()
    assert tool._script(m) == "sweep"
    copy = tmp_path / "committed"  # what a committed copy keeps: no points/
    copy.mkdir()
    for name in ("manifest.json", "sweep.toml", "sweep.csv"):
        shutil.copy(out / name, copy / name)
    status, comparisons, _ = tool.check(copy)
    assert status == "REPRODUCED" and [c[0].split()[-1] for c in comparisons] == ["final_test_acc", "ff_angle_worst"]
    rows = _rows(copy / "sweep.csv")
    row = next(r for r in rows if r["point"] == s.points[0].id and r["preset"] == "four_synapse")
    row["final_test_acc"] = repr(float(row["final_test_acc"]) + 1 / 48)  # one of --quick's 48 test images
    write_csv(copy / "sweep.csv", rows)
    status, comparisons, _ = tool.check(copy)
    assert status == "DRIFTED" and [c[-1] for c in comparisons] == [False, True]


def test_sweep_manifest_is_kept_by_a_call_that_ran_nothing_and_extended_by_a_resumed_one(tmp_path):
    """write_sweep_manifest on its own (no runs): the call that ran writes it; a rerun with nothing to do
    leaves it byte for byte; a resumed call records the first in earlier_calls, its own counts in this_call."""
    import time

    from selfassembly.sweep.command import write_sweep_manifest

    s = load_sweep(QUICK, quick=True)
    summary = dict(runs=40, skipped=0, ran=40, simulations=18, done=40, diverged=0, unstable=0, failed=0, workers=2,
                   scheduler="local", wall_time_s=3.0)
    options = {"sweep_file": "x.toml", "quick": True, "workers": 2, "scheduler": None, "retries": 0, "func": print}
    first = write_sweep_manifest(s, tmp_path, ["sweep", "x.toml", "--workers", "2"], options, time.time() - 3, summary)
    assert first["command"] == "selfassembly sweep x.toml --workers 2" and "func" not in first["settings"]
    assert "reproduce" not in first  # no point finished (no summary.json): no slice to rerun
    text = (tmp_path / "manifest.json").read_bytes()
    assert write_sweep_manifest(s, tmp_path, ["sweep", "x.toml"], options, time.time(),
                                dict(summary, ran=0, skipped=40)) is None
    assert (tmp_path / "manifest.json").read_bytes() == text
    again = write_sweep_manifest(s, tmp_path, ["sweep", "x.toml", "--workers", "1"], options, time.time(),
                                 dict(summary, ran=2, skipped=38))
    assert [c["command"] for c in again["earlier_calls"]] == [first["command"]]
    assert again["this_call"]["ran"] == 2 and again["command"].endswith("--workers 1")


def test_killed_worker_loses_no_point(swept):
    out, marker, code = swept
    assert marker.is_file(), "no worker was killed: the plugin did not fire"
    pid = int(marker.read_text())
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # that worker process is gone...
    rows = _rows(out / "sweep.csv")
    assert code == 0 and len(rows) == 40 and all(r["status"] == "done" for r in rows)  # ...and nothing was lost


def test_rerun_has_nothing_left_to_do(swept, capsys):
    out, _, _ = swept
    before, manifest = _rows(out / "sweep.csv"), (out / "manifest.json").read_bytes()
    assert main(["sweep", str(QUICK), "--quick", "--workers", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "40 already done, 0 to do" in text and "dask:" not in text  # no cluster started
    assert _rows(out / "sweep.csv") == before
    assert (out / "manifest.json").read_bytes() == manifest  # the call that made the results stays recorded


def test_done_is_verified_by_loading(swept, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(swept[0], out)
    s = load_sweep(QUICK, quick=True)
    assert pending(s, out) == ([], 40)
    bad = out / "points" / s.points[1].id / "snapshots" / "four_synapse.npz"
    bad.write_bytes(b"not a snapshot")
    todo, skipped = pending(s, out)
    assert skipped == 39 and [[(p.id, pr) for p, pr in m] for m in todo] == [[(s.points[1].id, "four_synapse")]]
    # the same ids without --quick are other configurations: refused before anything runs
    assert main(["sweep", str(QUICK), "--out", str(out)]) == 2
    assert "holds a sweep of a different configuration" in capsys.readouterr().err
    # resuming reruns the broken run; the manifest keeps the first call as an earlier one
    first = json.loads((out / "manifest.json").read_text())
    assert main(["sweep", str(QUICK), "--quick", "--workers", "1", "--out", str(out)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["this_call"]["ran"] == 1 and m["this_call"]["skipped"] == 39
    assert m["command"].endswith(f"--workers 1 --out {out}")
    assert [c["command"] for c in m["earlier_calls"]] == [first["command"]]


def test_groups_and_verdicts(swept, capsys):
    """Each point's verdict column is the across-seed verdict of its seeds' folders, and
    `selfassembly inspect DIR` on the sweep folder prints and writes it for every point."""
    from selfassembly.analysis.inspect import seed_run_verdicts

    out = swept[0]
    groups = sweep_groups(out)
    assert len(groups) == 4 and all(len(d) == 2 for d in groups.values())
    assert "eta_c=0.002__eta_u=0.0005" in groups
    rows = _rows(out / "sweep.csv")
    for group, dirs in groups.items():
        v = point_verdicts(dirs)
        direct, seeds = seed_run_verdicts(dirs, n_samples=0, echo=lambda line: None)
        assert seeds == [0, 1] and v == {p: d["verdict"] for p, d in direct.items()}
        assert v["kolen_pollack"] == "STRUCTURED" and v["four_synapse"] in ("ASSEMBLED", "NOT ASSEMBLED", "UNDECIDED")
        assert verdict_positive(v["four_synapse"]) == (v["four_synapse"] == "ASSEMBLED")
        for preset in v:
            assert {r["verdict"] for r in rows if r["group"] == group and r["preset"] == preset} == {v[preset]}
    assert main(["inspect", str(out), "--samples", "0"]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "inspect" / "verdicts.json").read_text())
    assert set(saved["points"]) == set(groups)
    for group in groups:
        assert f"point {group} (seeds [0, 1]):" in printed
        assert saved["points"][group]["kolen_pollack"]["verdict"] == "STRUCTURED"


# ---- the local cluster of --workers ------------------------------------------------------------
def test_local_cluster_runs_single_threaded_worker_processes():
    """--workers N starts N worker processes with one thread each (Brian2 keeps global state)."""
    from selfassembly.sweep import start_client

    client, cluster, n, make_jobs = start_client(2, None)
    try:
        pids = client.run(os.getpid)
        assert n == 2 and len(set(pids.values())) == 2 and os.getpid() not in pids.values()
        assert sorted(w["nthreads"] for w in client.scheduler_info()["workers"].values()) == [1, 1]
        assert make_jobs >= 1
    finally:
        client.close()
        cluster.close()


# ---- a failing point on an existing cluster ----------------------------------------------------
def _tiny_mnist(folder):
    import numpy as np

    from selfassembly.idx import MNIST_FILES, write_idx

    folder.mkdir()
    rng = np.random.default_rng(0)
    for role, shape in (("train_images", (30, 28, 28)), ("train_labels", (30,)), ("test_images", (12, 28, 28)),
                        ("test_labels", (12,))):
        write_idx(folder / MNIST_FILES[role], rng.integers(0, 10 if "labels" in role else 256, shape, dtype=np.uint8))
    return folder


def test_failed_point_is_recorded_and_others_finish(tmp_path, capsys, monkeypatch):
    """A point that fails on its worker (its MNIST folder, there when the points were checked, is gone when it
    runs) is recorded as failed; the other point finishes."""
    from dask.distributed import LocalCluster
    import logging

    import selfassembly.sweep.execute as execute

    mnist = _tiny_mnist(tmp_path / "mnist")
    f = tmp_path / "s.toml"
    f.write_text(f'[training]\npresets = ["backprop"]\n[data]\nmnist_dir = "{mnist}"\n'
                 '[sweep]\n"data.dataset" = ["digits", "mnist"]\n"circuit.sizes" = [[64, 8, 10], [784, 8, 10]]\n'
                 'zip = ["data.dataset", "circuit.sizes"]\n')
    out = tmp_path / "out"
    real = execute.start_client

    def lose_mnist_then_start(*args):
        shutil.rmtree(mnist)
        return real(*args)

    monkeypatch.setattr(execute, "start_client", lose_mnist_then_start)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        code = main(["sweep", str(f), "--quick", "--scheduler", cluster.scheduler_address, "--retries", "1",
                     "--out", str(out)])
    assert code == 3  # some runs did not finish; the others still ran
    assert "1 runs failed" in capsys.readouterr().err
    rows = {r["data.dataset"]: r for r in _rows(out / "sweep.csv")}
    assert rows["digits"]["status"] == "done"
    assert rows["mnist"]["status"] == "failed" and f"{mnist} does not exist" in rows["mnist"]["message"]
    assert json.loads((out / "sweep.json").read_text())["failures"]


# ---- every point checked before anything runs, with run's own check ------------------------------
def test_every_point_is_checked_loading_each_data_configuration_once(monkeypatch):
    """check_points runs experiment.check_run on every point, loading the data once per data configuration
    (not per seed or per swept learning rate), and names the first point that run would refuse."""
    import selfassembly.experiment as experiment
    loads, checked = [], []
    real_load, real_check = experiment.load_run_data, experiment.check_run
    monkeypatch.setattr(experiment, "load_run_data", lambda c: loads.append(c.test_fraction) or real_load(c))
    monkeypatch.setattr(experiment, "check_run", lambda c, d: checked.append((c.eta, c.seed)) or real_check(c, d))
    s = parse_sweep({"training": {"presets": ["backprop"]},
                     "sweep": {"plasticity.eta": [0.01, 0.02], "data.test_fraction": [0.2, 0.3], "seeds": [0, 1, 2]}},
                    quick=True)
    check_points(s)
    assert sorted(loads) == [0.2, 0.3] and len(checked) == 12
    s = parse_sweep(_sweep(**{"plasticity.eta": [0.01, 0.02], "training.records_per_epoch": [2, 250]}), quick=True)
    with pytest.raises(SweepError, match=r"sweep point eta=0\.01__records_per_epoch=250__seed=0: "
                                         r"training\.records_per_epoch = 250 is more than the 240"):
        check_points(s)


# ---- the local cluster's size, the scheduler's answer, the resume hint ------------------------------
def test_workers_are_capped_at_the_simulations_and_the_cores():
    from selfassembly.sweep import worker_count

    assert worker_count(10, 3, cores=16) == (3, "note: --workers 10 capped at 3 (there are 3 simulations to do; "
                                                "a worker runs one simulation at a time on one core)")
    n, note = worker_count(999, 1, cores=2)
    assert n == 1 and "1 simulation to do and 2 cores" in note
    n, note = worker_count(8, 40, cores=4)
    assert n == 4 and note.endswith("capped at 4 (there are 4 cores; a worker runs one simulation at a time on one core)")
    assert worker_count(None, 40, cores=6) == (6, "") and worker_count(None, 2, cores=6) == (2, "")
    assert worker_count(3, 40, cores=6) == (3, "")


def _server(reply):
    """A TCP server on 127.0.0.1 that accepts every connection and sends ``reply`` (b"": nothing), never Dask."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            held.append(conn)
            if reply:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return srv, held


@pytest.mark.parametrize("reply", [b"", b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"],
                         ids=["silent", "http"])
def test_a_scheduler_that_is_not_dask_is_refused_within_the_timeout(tmp_path, capsys, monkeypatch, reply):
    import time

    import distributed.comm  # noqa: F401 - imported before the clock starts

    import selfassembly.sweep.execute as execute

    monkeypatch.setattr(execute, "SCHEDULER_TIMEOUT_S", 3.0)
    srv, held = _server(reply)
    f = tmp_path / "s.toml"
    f.write_text('[training]\npresets = ["backprop"]\n[sweep]\nseeds = [0]\n')
    address = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    try:
        t0 = time.monotonic()
        code = main(["sweep", str(f), "--quick", "--scheduler", address, "--out", str(tmp_path / "out")])
        took = time.monotonic() - t0
    finally:
        srv.close()
        for conn in held:
            conn.close()
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert f"--scheduler {address} did not answer as a Dask scheduler" in err and "tcp://HOST:8786" in err
    assert held, "the server was never reached"
    assert took < 3.0 + 2.0, took  # the timeout, and the checks of the sweep's one point
    assert not (tmp_path / "out").exists()


def test_the_resume_hint_names_the_folder_the_sweep_created(tmp_path, capsys, monkeypatch):
    """Without --out, an interrupted sweep's hint gives the folder it created, and that command resumes it."""
    import shlex

    import selfassembly.sweep.execute as execute

    monkeypatch.chdir(tmp_path)
    f = tmp_path / "s.toml"
    f.write_text('[training]\npresets = ["backprop"]\n[data]\nmax_train = 60\n[sweep]\nseeds = [0]\n')

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(execute, "start_client", interrupted)
    assert main(["sweep", str(f), "--workers", "1"]) == 130
    err = capsys.readouterr().err
    [created] = (tmp_path / "results").iterdir()
    assert created.name.startswith("sweep-") and (created / "sweep.toml").is_file()
    rel = created.relative_to(tmp_path)
    assert f"Finished runs are kept in {rel}" in err
    hint = err.split("run the same command with the same --out: ")[1].strip()
    argv = shlex.split(hint)
    assert argv[:1] == ["selfassembly"] and argv[-2:] == ["--out", str(rel)] and "--workers" in argv
    # the hinted command reruns into that folder (here, with the interrupt still planted: the same folder again)
    assert main(argv[1:]) == 130
    assert list((tmp_path / "results").iterdir()) == [created]
    assert f"Finished runs are kept in {rel};" in capsys.readouterr().err


def test_a_second_concurrent_sweep_is_refused_at_once(tmp_path, capsys):
    """Two sweeps on one folder: the second (started while the first runs) exits 2 at once, naming the first's pid;
    the first finishes intact. The first asks for --workers 999 and gets one worker, with a note."""
    import subprocess
    import sys
    import time

    from selfassembly.folders import LOCK_NAME

    f = tmp_path / "s.toml"
    f.write_text('[training]\npresets = ["backprop"]\n[data]\nmax_train = 60\n[sweep]\nseeds = [0]\n')
    out = tmp_path / "out"
    cmd = [sys.executable, "-u", "-m", "selfassembly", "sweep", str(f), "--quick", "--out", str(out)]
    errors = open(tmp_path / "first.err", "w")
    first = subprocess.Popen(cmd + ["--workers", "999"], stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        said = []
        for line in first.stdout:
            said.append(line)
            if line.startswith("selfassembly sweep:"):  # the folder is held from before this line
                break
        t0 = time.monotonic()
        code = main(["sweep", str(f), "--quick", "--out", str(out)])
        took = time.monotonic() - t0
        rest = first.stdout.read()  # (from the same buffered reader: communicate() would skip what it read ahead)
        first.wait(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
        errors.close()
    err = (tmp_path / "first.err").read_text()
    second = capsys.readouterr()
    assert code == 2 and took < 10, (code, took, second.err)
    assert "is in use" in second.err and f"pid {first.pid}" in second.err and "selfassembly sweep" in second.err
    assert "Traceback" not in second.err and "dask:" not in second.out
    assert first.returncode == 0, err[-3000:]
    said = "".join(said) + rest
    assert "note: --workers 999 capped at 1 (there are 1 simulation to do" in said and "dask: 1 workers" in said, said
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["done"] == 1 and summary["workers"] == 1 and not (out / LOCK_NAME).exists()


@pytest.mark.slow
def test_cpp_standalone_points_share_one_binary(tmp_path):
    """Two cpp_standalone points that differ only in eta_c: one compilation, one run_args rerun, other weights."""
    import numpy as np

    from selfassembly.io import load_snapshots

    f = tmp_path / "cpp.toml"
    f.write_text('[circuit]\nsizes = [64, 8, 8, 10]\n[training]\npresets = ["four_synapse"]\nepochs = 1\n'
                 '[data]\nmax_train = 60\n[simulator]\ntarget = "cpp_standalone"\n'
                 '[sweep]\n"plasticity.eta_c" = [0.001, 0.016]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out)]) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["compiled_binaries"] == 1 and summary["binary_reuses"] == 1 and summary["compile_time_s"] > 0
    a, b = (load_snapshots(out / "points" / f"eta_c={v}__seed=0" / "snapshots" / "four_synapse.npz")
            for v in (0.001, 0.016))
    assert not np.allclose(a.weights["V1"][-1], b.weights["V1"][-1])  # the new eta_c reached the binary
    np.testing.assert_array_equal(a.weights["W1"][0], b.weights["W1"][0])  # same start
