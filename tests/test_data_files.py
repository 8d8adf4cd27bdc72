"""Users' data files (``--dataset PATH``): bad files refused before anything runs, good ones run end to end.

The table gives each bad file its exit status 2 and what the one-line message
must name (the file and the problem); nothing may be written then. The end-to-end
tests run tiny ``selfassembly run`` calls on an .npz and a .csv file and then
``inspect`` and ``compare`` them, and check that an edited file is not resumed
as done (its sha256 is part of the configuration hash).
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from selfassembly.cli import main
from selfassembly.config import ExperimentConfig, load_config
from selfassembly.datasets import load_data_file

RNG = np.random.default_rng(7)
N, F, K = 90, 5, 3


def _xy(n=N):
    X = RNG.normal(size=(n, F)) * 4.0
    y = np.arange(n) % K  # every class well represented
    X[np.arange(n), y] += 16.0  # learnable: feature k is high in class k
    return X, y


def _npz(tmp, name="d.npz", **arrays):
    path = tmp / name
    np.savez(path, **arrays)
    return str(path)


def _csv(tmp, text, name="d.csv"):
    path = tmp / name
    path.write_text(text)
    return str(path)


def _table(X, y, label="kind", names=("a", "b", "c")):
    head = ",".join([f"f{j}" for j in range(X.shape[1])] + [label])
    lines = [",".join([*(f"{v:.5g}" for v in row), str(names[int(t)] if names else t)]) for row, t in zip(X, y)]
    return head + "\n" + "\n".join(lines) + "\n"


def _run(tmp, data, *flags, sizes=f"{F},8,{K}"):
    return ["run", "--quick", "--presets", "backprop", "--dataset", data, "--sizes", sizes, *flags,
            "--out", str(tmp / "out")]


def _with(arr, index, value):
    arr = np.array(arr, dtype=float)
    arr[index] = value
    return arr


@dataclass
class Case:
    id: str
    argv: Callable[[Path], list]
    names: list


X0, Y0 = _xy()

CASES = [
    Case("nan-in-X", lambda t: _run(t, _npz(t, X=_with(X0, (4, 2), np.nan), y=Y0)),
         ["d.npz", "X holds 1 NaN or infinite values", "index (4, 2)"]),
    Case("inf-in-y-regression", lambda t: _run(t, _npz(t, X=X0, y=_with(X0[:, :2], (0, 1), np.inf))),
         ["d.npz", "y holds 1 NaN or infinite values"]),
    Case("inf-in-csv", lambda t: _run(t, _csv(t, "f0,f1,kind\n1,inf,a\n2,3,b\n"), "--label-column", "kind",
                                      sizes="2,8,2"),
         ["d.csv, line 2", "column 'f1' is 'inf'", "NaN or infinite"]),
    Case("rows-mismatch", lambda t: _run(t, _npz(t, X=X0, y=Y0[:-1])),
         ["d.npz", "X has 90 samples but y has 89"]),
    Case("split-columns-mismatch", lambda t: _run(t, _npz(t, X_train=X0, y_train=Y0, X_test=X0[:, :4], y_test=Y0)),
         ["d.npz", "X_train has shape (90, 5) but X_test (90, 4)", "same columns"]),
    Case("X-not-2d", lambda t: _run(t, _npz(t, X=X0[:, 0], y=Y0)), ["d.npz", "X has shape (90,); it must be 2-D"]),
    Case("missing-arrays", lambda t: _run(t, _npz(t, data=X0, labels=Y0)),
         ["d.npz holds the arrays ['data', 'labels']", "it needs X and y, or X_train, y_train, X_test and y_test"]),
    Case("too-few-per-class", lambda t: _run(t, _npz(t, X=X0[:61], y=np.r_[Y0[:60], 5])),
         ["d.npz", "too few samples per class for the split", "class 5 (1) has fewer than 2"]),
    Case("test-class-not-trained", lambda t: _run(t, _npz(t, X_train=X0, y_train=Y0 % 2, X_test=X0, y_test=Y0)),
         ["d.npz", "class(es) [2] appear in y_test but not in y_train"]),
    Case("one-class", lambda t: _run(t, _npz(t, X=X0, y=np.zeros(N, int))), ["d.npz", "y holds one class only"]),
    Case("wrong-n0", lambda t: _run(t, _npz(t, X=X0, y=Y0), sizes=f"{F + 1},8,{K}"),
         ["input layer has n_0 = 6", "d.npz needs n_0 = 5 and n_L = 3", "--sizes 5,8,3"]),
    Case("wrong-nL", lambda t: _run(t, _npz(t, X=X0, y=Y0), sizes=f"{F},8,10"),
         ["output layer has n_L = 10", "d.npz needs n_0 = 5 and n_L = 3"]),
    Case("regression-with-softmax", lambda t: _run(t, _npz(t, X=X0, y=X0[:, :2] * 0.1), sizes=f"{F},8,2"),
         ["circuit.output is softmax", "d.npz has real-valued targets (regression)", "use --output linear"]),
    Case("non-numeric-column", lambda t: _run(t, _csv(t, "size,colour,kind\n1.5,red,a\n2.5,blue,b\n"),
                                              "--label-column", "kind", sizes="2,8,2"),
         ["d.csv, line 2: column 'colour' holds 'red', not a number", "every column but the label column"]),
    Case("text-array-in-npz", lambda t: _run(t, _npz(t, X=X0.astype(str), y=Y0)),
         ["d.npz: X holds <U", "not numbers"]),
    Case("pickled-objects", lambda t: _run(t, _npz(t, X=np.array([{"evil": 1}] * N, dtype=object), y=Y0)),
         ["d.npz holds object (pickled) arrays", "allow_pickle=False"]),
    Case("empty-npz", lambda t: _run(t, _csv(t, "", name="d.npz")), ["d.npz is empty"]),
    Case("empty-csv", lambda t: _run(t, _csv(t, ""), "--label-column", "kind"), ["d.csv is empty"]),
    Case("header-only-csv", lambda t: _run(t, _csv(t, "f0,kind\n"), "--label-column", "kind"),
         ["d.csv has a header line but no samples"]),
    Case("no-samples-npz", lambda t: _run(t, _npz(t, X=np.zeros((0, F)), y=np.zeros(0, int))),
         ["d.npz: X holds no samples"]),
    Case("not-a-zip", lambda t: _run(t, _csv(t, "hello", name="d.npz")), ["d.npz is not a readable .npz archive"]),
    Case("missing-file", lambda t: _run(t, str(t / "none.npz")), ["none.npz does not exist"]),
    Case("unknown-label-column", lambda t: _run(t, _csv(t, _table(X0, Y0)), "--label-column", "species"),
         ["d.csv has no column 'species'", "its columns are: f0, f1, f2, f3, f4, kind"]),
    Case("csv-without-label-column", lambda t: _run(t, _csv(t, _table(X0, Y0))),
         ["d.csv", "--label-column NAME"]),
    Case("label-column-for-npz", lambda t: _run(t, _npz(t, X=X0, y=Y0), "--label-column", "kind"),
         ["data.label_column = 'kind' is only for a .csv data file"]),
    Case("ragged-csv", lambda t: _run(t, _csv(t, "f0,f1,kind\n1,2,a\n3,b\n"), "--label-column", "kind",
                                      sizes="2,8,2"),
         ["d.csv, line 3: 2 fields, but the header has 3"]),
    Case("empty-label", lambda t: _run(t, _csv(t, "f0,f1,kind\n1,2,a\n3,4,\n"), "--label-column", "kind",
                                       sizes="2,8,2"),
         ["d.csv, line 3: the label (kind) is empty"]),
    Case("all-zero-features", lambda t: _run(t, _npz(t, X=np.zeros((N, F)), y=Y0)),
         ["d.npz: every training feature is zero"]),
    Case("unknown-name", lambda t: _run(t, "digitz"),
         ["data.dataset: unknown value 'digitz'", "or the path of an .npz or .csv data file"]),
    Case("config-file-key", lambda t: ["run", "--quick", "--config", _csv(
        t, f'[data]\ndataset = "{_npz(t, X=X0, y=Y0)}"\nlabel_column = "kind"\n', name="c.toml"),
        "--out", str(t / "out")], ["c.toml", "data.label_column = 'kind' is only for a .csv data file"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_data_file(case, tmp_path, capsys):
    argv = case.argv(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("selfassembly run: error: "), err
    for name in case.names:
        assert name in err, f"{name!r} not in:\n{err}"
    assert not (tmp_path / "out").exists(), "refused, but the output folder was created"


def test_the_table_covers_the_problems_the_docs_name():
    ids = {c.id for c in CASES}
    for problem in ("nan-in-X", "rows-mismatch", "too-few-per-class", "wrong-n0", "wrong-nL", "non-numeric-column",
                    "pickled-objects", "empty-npz", "empty-csv"):
        assert problem in ids


# --------------------------------------------------------------------------- loading
def test_scaling_split_and_classes(tmp_path):
    X, y = _xy(60)
    labels = np.array([10, 20, 30])[y]  # any whole numbers are classes, in increasing order
    X[:, 0] = labels  # the largest |x| (the others stay below 30), so that the scale is known: 30
    X[:, 1:] = np.clip(X[:, 1:], -29, 29)
    data = load_data_file(_npz(tmp_path, X=X, y=labels), test_fraction=0.25, seed=3)
    assert data.task == "classification" and data.n_classes == 3 and data.n_features == F
    # one number divides every feature: the largest |x| of the training part maps to 1, ratios are kept
    allX = np.concatenate([data.X_train, data.X_test])
    assert np.max(np.abs(data.X_train)) == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(np.sort(allX.ravel()) * 30.0, np.sort(X.ravel()), rtol=1e-12)
    # stratified: round(0.25 * 20) = 5 test samples of each class
    assert data.Y_test.sum(axis=0).tolist() == [5, 5, 5] and data.Y_train.sum(axis=0).tolist() == [15, 15, 15]
    # class k of the sorted labels is one-hot column k: label 10 -> 0, 20 -> 1, 30 -> 2
    for part_X, part_Y in ((data.X_train, data.Y_train), (data.X_test, data.Y_test)):
        assert np.array_equal(np.argmax(part_Y, axis=1), np.round(part_X[:, 0] * 30.0).astype(int) // 10 - 1)


def test_presplit_file_is_used_as_given_and_test_is_scaled_like_train(tmp_path):
    Xtr, ytr = _xy(30)
    Xte = Xtr[:6] * 2.0  # larger than the training maximum: scaled by the training number, not clipped
    data = load_data_file(_npz(tmp_path, X_train=Xtr, y_train=ytr, X_test=Xte, y_test=ytr[:6]))
    s = np.max(np.abs(Xtr))
    assert np.allclose(data.X_train, Xtr / s) and np.allclose(data.X_test, Xte / s)
    assert np.max(np.abs(data.X_test)) > 1.0
    assert np.array_equal(np.argmax(data.Y_test, axis=1), ytr[:6])


def test_csv_class_names_and_regression_targets(tmp_path):
    X, y = _xy(30)
    data = load_data_file(_csv(tmp_path, _table(X, y, names=("setosa", "versicolor", "virginica"))), "kind")
    assert data.task == "classification" and data.n_classes == 3 and len(data.X_train) + len(data.X_test) == 30
    reg = load_data_file(_csv(tmp_path, _table(X, X[:, 1] * 0.37, names=None), name="r.csv"), "kind")
    assert reg.task == "regression" and reg.Y_train.shape[1] == 1
    # regression targets are not scaled
    assert np.allclose(np.sort(np.r_[reg.Y_train[:, 0], reg.Y_test[:, 0]]), np.sort(np.round(X[:, 1] * 0.37, 4)),
                       atol=1e-3)


# --------------------------------------------------------------------------- end to end
def _final(out, preset="backprop"):
    return json.loads((Path(out) / "summary.json").read_text())["presets"][preset]


def test_npz_run_inspect_compare_and_an_edited_file_is_not_resumed(tmp_path, capsys):
    X, y = _xy(150)
    data = _npz(tmp_path, "my.npz", X=X, y=y)
    out = tmp_path / "run"
    argv = ["run", "--quick", "--dataset", data, "--sizes", f"{F},16,{K}", "--presets", "backprop,four_synapse",
            "--epochs", "4", "--out", str(out)]
    assert main(argv) == 0
    assert _final(out)["final_test_acc"] > 0.6  # chance is 1/3
    assert load_config(out / "config.toml").dataset == data
    assert main(["inspect", str(out), "--null", "3", "--no-plots"]) == 0
    assert main(["compare", str(out), "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "physiology.md").is_file()
    capsys.readouterr()
    # the same file again: resumed, nothing rerun
    assert main(argv) == 0
    assert "backprop: already done" in capsys.readouterr().out
    # an edited file (same path, same config.toml) is not taken as done
    np.savez(data, X=X, y=(y + 1) % K)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds results of a different configuration" in err and "my.npz changed since they were made" in err


def test_config_hash_follows_the_file_content(tmp_path):
    X, y = _xy(30)
    path = _npz(tmp_path, X=X, y=y)
    c = ExperimentConfig(dataset=path, sizes=[F, 4, K])
    h = c.config_hash()
    assert ExperimentConfig(dataset=path, sizes=[F, 4, K]).config_hash() == h
    np.savez(path, X=X, y=(y + 1) % K)
    assert c.config_hash() != h


def test_csv_run_from_a_config_file_then_inspect_and_compare(tmp_path):
    X, y = _xy(120)
    data = _csv(tmp_path, _table(X, y, label="species", names=("setosa", "versicolor", "virginica")), "lab.csv")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[circuit]\nsizes = [{F}, 12, {K}]\n[data]\ndataset = "{data}"\nlabel_column = "species"\n'
                   '[training]\npresets = ["kolen_pollack"]\nepochs = 2\n')
    out = tmp_path / "run"
    assert main(["run", "--quick", "--config", str(cfg), "--out", str(out)]) == 0
    assert _final(out, "kolen_pollack")["final_test_acc"] > 0.5
    assert main(["inspect", str(out), "--null", "3", "--no-plots"]) == 0
    assert main(["compare", str(out), "--out", str(tmp_path / "cmp")]) == 0


def test_regression_run_has_no_accuracy_and_learns(tmp_path):
    X = RNG.normal(size=(120, F))
    Y = np.stack([0.5 * X[:, 0], X[:, 1] - X[:, 2]], axis=1)
    out = tmp_path / "run"
    assert main(["run", "--quick", "--dataset", _npz(tmp_path, X=X, y=Y), "--sizes", f"{F},16,2", "--output", "linear",
                 "--presets", "backprop", "--epochs", "3", "--out", str(out)]) == 0
    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["test_acc"] for r in rows} == {"nan"}  # accuracy is not defined for real-valued targets
    assert float(rows[-1]["test_loss"]) < 0.5 * float(rows[0]["test_loss"])


def test_sweep_checks_the_data_file_before_running(tmp_path, capsys):
    X, y = _xy(30)
    data = _npz(tmp_path, X=X, y=y)
    f = tmp_path / "s.toml"
    f.write_text(f'[data]\ndataset = "{data}"\n[training]\npresets = ["backprop"]\n'
                 '[sweep]\n"circuit.sizes" = [[5, 8, 3], [5, 8, 4]]\nseeds = [0]\n')
    assert main(["sweep", str(f), "--workers", "1", "--out", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err
    assert "output layer has n_L = 4" in err and "d.npz needs n_0 = 5 and n_L = 3" in err
