"""Bad input, table-driven: every case ends in a clear refusal (or a correct run), never a traceback.

Each case runs one ``selfassembly`` command in-process and asserts its exit status
(see :mod:`selfassembly.errors`), that stderr holds no traceback, and what the
message names (the file, field or path, and the fix). The cases are grouped by
area: config files, command-line flags, run folders, snapshot files, IDX files
and users' physiology CSV files. Most fail before any training; the few that
need a finished run share one quick run (module-scoped) and copy it.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from selfassembly import __version__
from selfassembly.cli import main
from selfassembly.idx import MNIST_FILES, write_idx
from selfassembly.folders import LOCK_NAME
from selfassembly.io import Snapshots, load_snapshots, save_snapshots

MNIST_SIZES = ["--sizes", "784,8,10"]


# --------------------------------------------------------------------------- shared fixtures
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One finished quick run (backprop only), copied by the cases that change it."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["run", "--quick", "--presets", "backprop", "--out", str(out)]) == 0
    return out


#: the shared finished sweep: one point (seed 0) of backprop, with --quick the same run as `finished_run`
SWEEP = '[training]\npresets = ["backprop"]\n[sweep]\nseeds = [0]\n'


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory, finished_run):
    """A finished sweep folder, made by `selfassembly sweep` without simulating: the sweep is started and
    interrupted before its cluster, the shared finished run (the same configuration) is copied in as its
    point, and the rerun finds nothing left to do and writes sweep.csv, sweep.json and sweep.md."""
    import selfassembly.sweep.execute as execute

    root = tmp_path_factory.mktemp("sweep")
    f, out = root / "s.toml", root / "sweep"
    f.write_text(SWEEP)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    said = io.StringIO()  # (not into the output of the first case that uses it)
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        mp.setattr(execute, "start_client", interrupted)
        assert main(["sweep", str(f), "--quick", "--out", str(out)]) == 130
        shutil.copytree(finished_run, out / "points" / "seed=0")
        assert main(["sweep", str(f), "--quick", "--out", str(out)]) == 0, said.getvalue()
    assert (out / "sweep.json").is_file() and not (out / LOCK_NAME).exists()
    return out


@dataclass
class Ctx:
    """What a case builds its command from: a fresh folder and the shared finished run."""

    tmp: Path
    finished: Path
    sweep: Path | None = None

    def path(self, name):
        return self.tmp / name

    def write(self, name, text, binary=False):
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text) if binary else path.write_text(text)
        return str(path)

    def config(self, text):
        # --quick first: should a regression accept the bad value, the case runs seconds, not minutes
        return ["run", "--quick", "--config", self.write("c.toml", text), "--out", str(self.tmp / "out")]

    def sweep_copy(self):
        """A copy of the shared finished sweep (one point, backprop, seed 0), as ``tmp/sweep``."""
        dest = self.tmp / "sweep"
        shutil.copytree(self.sweep, dest)
        return dest

    def sweep_cmd(self, out, text=None, *flags):
        """``selfassembly sweep FILE --quick --out OUT`` with the shared sweep's file, or ``text``."""
        f = self.write("s.toml", SWEEP if text is None else text, binary=isinstance(text, bytes))
        return ["sweep", f, "--quick", *flags, "--out", str(out)]

    def run_copy(self):
        dest = self.tmp / "run"
        shutil.copytree(self.finished, dest)
        return dest

    def mnist(self, gz=False, damage=None):
        """A folder of four small MNIST files; ``damage(folder)`` spoils one."""
        folder = self.tmp / "mnist"
        folder.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        data = {"train_images": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
                "train_labels": rng.integers(0, 10, 30, dtype=np.uint8),
                "test_images": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
                "test_labels": rng.integers(0, 10, 12, dtype=np.uint8)}
        for role, arr in data.items():
            write_idx(folder / (MNIST_FILES[role] + (".gz" if gz else "")), arr)
        if damage:
            damage(folder)
        return ["run", "--quick", "--mnist", str(folder), *MNIST_SIZES, "--out", str(self.tmp / "out")]

    def compare_data(self, *texts):
        files = [self.write(f"data{k}.csv", t) for k, t in enumerate(texts)]
        return ["compare", str(self.finished), "--data", *files, "--out", str(self.tmp / "cmp")]


@dataclass
class Case:
    """One bad input: the command, the exit status, what stderr (or stdout, for status 0) must name."""

    id: str
    argv: Callable[[Ctx], list]
    code: int
    names: list
    absent: list = field(default_factory=list)
    check: Callable[[Ctx], None] | None = None


def _set_byte(path, offset, value):
    raw = bytearray(path.read_bytes())
    raw[offset] = value
    path.write_bytes(bytes(raw))


def _labels(folder):
    return folder / MNIST_FILES["train_labels"]


def _images(folder):
    return folder / MNIST_FILES["train_images"]


# --------------------------------------------------------------------------- config files
CONFIG_CASES = [
    Case("bool-is-not-a-number", lambda c: c.config("[plasticity]\neta = true\n"), 2,
         ["c.toml", "plasticity.eta must be a number, got true (a boolean)"]),
    Case("float-sizes", lambda c: c.config("[circuit]\nsizes = [64.7, 24, 10.2]\n"), 2,
         ["circuit.sizes[0] must be a whole number, got 64.7"]),
    Case("float-epochs", lambda c: c.config("[training]\nepochs = 2.0\n"), 2,
         ["training.epochs must be a whole number, got 2.0", "without a decimal point"]),
    Case("quoted-number", lambda c: c.config('[plasticity]\neta = "0.5"\n'), 2,
         ["plasticity.eta must be a number", "without quotes"]),
    Case("nan", lambda c: c.config("[plasticity]\nlam = nan\n"), 2, ["plasticity.lam must be a finite number"]),
    Case("huge-seed", lambda c: c.config("[training]\nseed = 1099511627776\n"), 2,
         ["training.seed must be below 2**32"]),
    Case("negative-seed", lambda c: c.config("[training]\nseed = -1\n"), 2, ["training.seed must be >= 0"]),
    Case("empty-preset-item", lambda c: c.config('[training]\npresets = ["backprop", ""]\n'), 2,
         ["training.presets: item 2 is empty"]),
    Case("number-as-text-field", lambda c: c.config("[circuit]\nactivation = 3\n"), 2,
         ["circuit.activation must be text"]),
    Case("bool-connectivity", lambda c: c.config("[connectivity.W]\np = true\n"), 2,
         ["connectivity.W.p must be a number, got true"]),
    Case("binary-file", lambda c: ["run", "--config", c.write("c.toml", b"\x7fELF\x02\x01\xff\xfe", binary=True)],
         2, ["c.toml is not UTF-8 text"]),
    Case("not-toml", lambda c: c.config("[training\nepochs = 1\n"), 2, ["c.toml is not valid TOML"]),
    Case("config-is-a-folder", lambda c: ["run", "--config", str(c.tmp)], 2, ["is a folder", "config.toml"]),
    Case("missing-config", lambda c: ["run", "--config", str(c.path("none.toml"))], 2, ["none.toml does not exist"]),
    Case("unknown-key", lambda c: c.config("[circuit]\nwidth = 3\n"), 2, ["unknown key circuit.width"]),
    Case("empty-sizes", lambda c: c.config("[circuit]\nsizes = []\n"), 2, ["circuit.sizes", "at least one more layer"]),
    Case("negative-max-train", lambda c: c.config("[data]\nmax_train = -5\n"), 2, ["data.max_train must be >= 0"]),
    Case("test-fraction-too-small", lambda c: c.config("[data]\ntest_fraction = 0.0001\n"), 2,
         ["data.test_fraction = 0.0001 leaves no test samples of the 1797", "use a value between"]),
    Case("test-fraction-too-large", lambda c: c.config("[data]\ntest_fraction = 0.9999\n"), 2,
         ["data.test_fraction = 0.9999 leaves no training samples"]),
    Case("test-fraction-above-one", lambda c: c.config("[data]\ntest_fraction = 1.5\n"), 2,
         ["data.test_fraction must be below 1"]),
    Case("mnist-without-folder", lambda c: c.config('[data]\ndataset = "mnist"\n'), 2, ["--mnist DIR"]),
]


# --------------------------------------------------------------------------- command-line flags
def _quick(c, *flags):
    return ["run", "--quick", *flags, "--out", str(c.tmp / "out")]


FLAG_CASES = [
    Case("empty-size-item", lambda c: _quick(c, "--sizes", "64,,10"), 2, ["--sizes '64,,10' has an empty item"]),
    Case("empty-preset-flag-item", lambda c: _quick(c, "--presets", "backprop,,kolen_pollack"), 2,
         ["--presets", "has an empty item"]),
    Case("sizes-not-numbers", lambda c: _quick(c, "--sizes", "64,x,10"), 2, ["comma-separated whole numbers"]),
    Case("too-large-for-memory", lambda c: _quick(c, "--sizes", "64,100000,10"), 2,
         ["GiB of memory", "synapses for sizes [64, 100000, 10]", "SELFASSEMBLY_MEMORY_LIMIT_GB"],
         check=lambda c: not c.path("out").exists() or pytest.fail("refused, but the folder was created")),
    Case("records-above-samples", lambda c: _quick(c, "--records-per-epoch", "100000"), 2,
         ["training.records_per_epoch = 100000 is more than the 240 training samples", "use at most 240"]),
    Case("seed-range", lambda c: _quick(c, "--seed", str(2**40)), 2, ["command-line flags", "training.seed"]),
    Case("zero-epochs", lambda c: _quick(c, "--epochs", "0"), 2, ["training.epochs must be >= 1"]),
    Case("epochs-not-a-number", lambda c: _quick(c, "--epochs", "two"), 2, ["--epochs", "invalid int value"]),
    Case("negative-eta", lambda c: _quick(c, "--eta", "-1"), 2, ["plasticity.eta must be >= 0"]),
    Case("infinite-eta", lambda c: _quick(c, "--eta", "inf"), 2, ["plasticity.eta must be a finite number"]),
    Case("input-size-mismatch", lambda c: _quick(c, "--sizes", "60,24,10"), 2,
         ["stimuli have 64 features but the input layer has n_0 = 60", "make sizes[0] = 64"]),
    Case("output-size-mismatch", lambda c: _quick(c, "--sizes", "64,24,9"), 2,
         ["teacher signals have 10 entries", "make sizes[-1] = 10"]),
    Case("unknown-preset", lambda c: _quick(c, "--presets", "backprob"), 2, ["unknown value 'backprob'; valid values"]),
    Case("unknown-target", lambda c: _quick(c, "--target", "gpu"), 2, ["simulator.target", "valid values: numpy"]),
    Case("dynamic-dt-too-large", lambda c: _quick(c, "--mode", "dynamic", "--dt-ms", "1", "--tau-r-ms", "1"), 2,
         ["at most tau_r_ms / 2"]),
    Case("mnist-folder-missing", lambda c: _quick(c, "--mnist", str(c.path("nowhere")), *MNIST_SIZES), 2,
         ["MNIST folder", "nowhere does not exist"]),
    Case("unstable-u-rule", lambda c: _quick(c, "--presets", "four_synapse", "--eta-u", "0.02"), 3,
         ["four_synapse (diverged)", "eta_u / eta_c is 10, above 0.25", "lower plasticity.eta_u or raise plasticity.eta_c"]),
    Case("unknown-u-rule", lambda c: _quick(c, "--cross-u", "oja"), 2,
         ["plasticity.cross_u: unknown value 'oja'; valid values: fixed, reconstruct, hebbian"]),
    Case("override-of-a-transport-preset", lambda c: _quick(c, "--cross-u", "reconstruct"), 2,
         ["rule set 'backprop': weight transport", "leave backprop out of training.presets, or drop the override"]),
]


# --------------------------------------------------------------------------- run folders
def _edit_config(c):
    run = c.run_copy()
    cfg = run / "config.toml"
    cfg.write_text(cfg.read_text().replace("eta = 0.02", "eta = 0.5", 1))
    return ["run", "--config", str(cfg), "--out", str(run)]


def _no_config(c):
    run = c.run_copy()
    (run / "config.toml").unlink()
    return ["run", "--quick", "--presets", "backprop", "--eta", "0.5", "--out", str(run)]


def _foreign_file(c, name, text):
    run = c.run_copy()
    (run / name).write_text(text)
    return ["run", "--quick", "--presets", "backprop", "--out", str(run)]


def _truncated_snapshot(c):
    run = c.run_copy()
    npz = run / "snapshots" / "backprop.npz"
    npz.write_bytes(npz.read_bytes()[:3000])
    return ["run", "--quick", "--presets", "backprop", "--out", str(run)]


def _stale_tmp(c):
    run = c.run_copy()
    (run / ".summary.json.ab12cd34.tmp").write_text("half")
    (run / "snapshots" / ".backprop.npz.zz99yy88.tmp").write_text("half")
    return ["run", "--quick", "--presets", "backprop", "--out", str(run)]


def _failed_start_folder(c):
    out = c.path("out")
    out.mkdir()
    (out / "config.toml").write_text('[training]\npresets = ["backprop"]\nepochs = 3\n')  # a start that failed
    return ["run", "--quick", "--presets", "backprop", "--max-train", "60", "--out", str(out)]


def _user_png_untouched(c):
    assert c.path("figs/accuracy.png").read_text() == "mine"
    assert sorted(p.name for p in c.path("figs").iterdir()) == ["accuracy.png"]


def _rerun_happened(c):
    snaps = load_snapshots(c.path("run/snapshots/backprop.npz"))
    assert list(snaps.steps) == [0, 120, 240] and snaps.config_hash


def _no_tmp_left(c):
    assert not [p for p in c.path("run").rglob("*.tmp")]


_READONLY = Path("/sys/kernel")
_readonly_ok = _READONLY.is_dir() and not os.access(_READONLY, os.W_OK) or os.geteuid() == 0 and _READONLY.is_dir()

FOLDER_CASES = [
    Case("out-is-a-file", lambda c: _quick(c)[:-1] + [c.write("f", "")], 2, ["--out", "is a file, not a folder"]),
    Case("out-under-a-file", lambda c: _quick(c)[:-1] + [c.write("f", "") + "/sub"], 2, ["cannot create the folder"]),
    Case("user-png-is-never-overwritten",
         lambda c: _quick(c, "--presets", "backprop")[:-1] + [c.write("figs/accuracy.png", "mine").rsplit("/", 1)[0]],
         2, ["has no config.toml, so it is not a selfassembly run folder", "accuracy.png"], check=_user_png_untouched),
    Case("foreign-folder", lambda c: _quick(c)[:-1] + [c.write("mine/notes.txt", "x").rsplit("/", 1)[0]], 2,
         ["not a selfassembly run folder", "notes.txt", "choose a new or empty --out folder"]),
    Case("config-removed-then-other-eta", _no_config, 2, ["has no config.toml", "restore that file"]),
    Case("config-edited-then-rerun", _edit_config, 2,
         ["holds results of a different configuration", "config.toml was changed after they were written"],
         absent=["already done"]),
    Case("other-flags", lambda c: ["run", "--quick", "--presets", "backprop", "--eta", "0.5", "--out",
                                   str(c.run_copy())], 2,
         ["different configuration", "plasticity.eta (0.02 there, 0.5 now)", "--config"]),
    Case("foreign-summary", lambda c: _foreign_file(c, "summary.json", '{"accuracy": 0.9}'), 2,
         ["summary.json is not a summary written by selfassembly", "never merged"]),
    Case("unparseable-summary", lambda c: _foreign_file(c, "summary.json", "not json"), 2,
         ["summary.json is not a summary written by selfassembly"]),
    Case("foreign-metrics", lambda c: _foreign_file(c, "metrics.csv", "a,b\n1,2\n"), 2,
         ["metrics.csv is not a metrics table written by selfassembly"]),
    Case("foreign-config", lambda c: _foreign_file(c, "config.toml", "[tool.black]\nline-length = 99\n"), 2,
         ["holds a config.toml that is not a valid selfassembly configuration"]),
    Case("truncated-snapshot-is-rerun", _truncated_snapshot, 0, ["backprop: 240/240 presentations"],
         absent=["already done"], check=_rerun_happened),
    Case("stale-tmp-files-are-removed", _stale_tmp, 0, ["backprop: already done"], check=_no_tmp_left),
    Case("failed-start-folder-is-reusable", _failed_start_folder, 0, ["backprop: 60/60 presentations"],
         check=lambda c: "max_train = 60" in c.path("out/config.toml").read_text() or pytest.fail("not rewritten")),
]
if _readonly_ok:
    FOLDER_CASES.append(Case("out-not-writable", lambda c: _quick(c)[:-1] + [str(_READONLY)], 2,
                             ["cannot write in the folder /sys/kernel", "choose a writable folder"]))


# --------------------------------------------------------------------------- snapshot files
def _spoil_snapshot(c, spoil, command="compare"):
    run = c.run_copy()
    spoil(run / "snapshots" / "backprop.npz")
    extra = ["--out", str(c.path("cmp"))] if command == "compare" else ["--no-plots", "--null", "2", "--samples", "0"]
    return [command, str(run), *extra]


def _object_npz(path):
    arrays = dict(np.load(path))
    arrays["W1"] = np.array([{"evil": 1}, None], dtype=object)
    np.savez(path, **arrays)


def _other_sizes(path):
    rng = np.random.default_rng(0)
    sizes = [64, 10, 10]
    shapes = {"W1": (10, 64), "W2": (10, 10), "B2": (10, 10), "U1": (10, 10), "U2": (10, 10), "V1": (10, 10),
              "V2": (10, 10)}
    save_snapshots(path, Snapshots(sizes, np.array([0, 1]), {k: rng.normal(size=(2,) + s) for k, s in shapes.items()}))


def _other_hash(path):
    snaps = load_snapshots(path)
    snaps.config_hash = "0" * 64
    save_snapshots(path, snaps)


SNAPSHOT_CASES = [
    Case("truncated-npz", lambda c: _spoil_snapshot(c, lambda p: p.write_bytes(p.read_bytes()[:3000])), 2,
         ["backprop.npz is not a readable .npz snapshot file: it is truncated or corrupt", "rerun"]),
    Case("text-named-npz", lambda c: _spoil_snapshot(c, lambda p: p.write_text("hello, not numbers")), 2,
         ["backprop.npz is not an .npz snapshot archive"], absent=["pickled"]),
    Case("empty-npz", lambda c: _spoil_snapshot(c, lambda p: p.write_bytes(b"")), 2, ["it is empty"]),
    Case("object-arrays", lambda c: _spoil_snapshot(c, _object_npz), 2, ["holds object (pickled) arrays"]),
    Case("foreign-npz", lambda c: _spoil_snapshot(c, lambda p: np.savez(p, a=np.zeros(3))), 2,
         ["missing array 'sizes'"]),
    Case("stale-sizes-compare", lambda c: _spoil_snapshot(c, _other_sizes), 2,
         ["has layer sizes [64, 10, 10] but", "config.toml says [64, 24, 24, 10]", "remove the stale file"]),
    Case("stale-sizes-inspect", lambda c: _spoil_snapshot(c, _other_sizes, "inspect"), 2,
         ["has layer sizes [64, 10, 10] but"]),
    Case("other-config-hash", lambda c: _spoil_snapshot(c, _other_hash), 2,
         ["was made by another configuration than", "config.toml"]),
    Case("no-snapshots-inspect", lambda c: ["inspect", str(c.tmp)], 2, ["no weight snapshots in"]),
    Case("no-results-folder", lambda c: ["compare", str(c.path("nowhere"))], 2, ["no results folder at"]),
]


# --------------------------------------------------------------------------- IDX files
def _gz_copy(folder):
    path = _labels(folder)
    Path(str(path) + ".gz").write_bytes(gzip.compress(path.read_bytes()))


IDX_CASES = [
    Case("plain-and-gz", lambda c: c.mnist(damage=_gz_copy), 2,
         ["train-labels-idx1-ubyte and train-labels-idx1-ubyte.gz", "remove all but one"]),
    Case("labels-ndim-byte", lambda c: c.mnist(damage=lambda f: _set_byte(_labels(f), 3, 2)), 2,
         ["train-labels-idx1-ubyte: the magic number (byte 3) says 2 dimensions, but labels must have 1"]),
    Case("images-ndim-byte", lambda c: c.mnist(damage=lambda f: _set_byte(_images(f), 3, 200)), 2,
         ["says 200 dimensions, but images (count, 28, 28) must have 3"]),
    Case("missing-file", lambda c: c.mnist(damage=lambda f: _labels(f).unlink()), 2, ["lacks train-labels-idx1-ubyte"]),
    Case("bad-magic", lambda c: c.mnist(damage=lambda f: _set_byte(_images(f), 0, 7)), 2,
         ["train-images-idx3-ubyte: bad magic number"]),
    Case("truncated-idx", lambda c: c.mnist(damage=lambda f: _images(f).write_bytes(_images(f).read_bytes()[:5000])),
         2, ["train-images-idx3-ubyte: truncated"]),
    Case("corrupt-gzip", lambda c: c.mnist(gz=True, damage=lambda f: (f / (MNIST_FILES["test_images"] + ".gz"))
                                            .write_bytes(b"\x1f\x8b" + b"\x00" * 40)), 2,
         ["t10k-images-idx3-ubyte.gz: looks gzipped but cannot be decompressed"]),
    Case("label-out-of-range", lambda c: c.mnist(damage=lambda f: write_idx(_labels(f), np.full(30, 12, np.uint8))),
         2, ["labels must be digits 0-9, found 12"]),
]


# --------------------------------------------------------------------------- users' physiology CSV files
HEAD = "statistic,value,ci_low,ci_high,source\n"

CSV_CASES = [
    Case("both-bounds-infinite", lambda c: c.compare_data(HEAD + "reciprocity_ratio,3,-inf,inf,lab\n"), 2,
         ["data0.csv, line 2: ci_low and ci_high are both infinite"]),
    Case("duplicate-rows", lambda c: c.compare_data(HEAD + "reciprocity_ratio,3,2,4,lab\nreciprocity_ratio,3,2,4,lab\n"),
         2, ["data0.csv, line 3: repeats the data point of", "line 2"]),
    Case("duplicate-across-files", lambda c: c.compare_data(HEAD + "reciprocity_ratio,3,2,4,lab\n",
                                                           HEAD + "reciprocity_ratio,3,2,4,lab\n"), 2,
         ["data1.csv, line 2: repeats the data point of", "data0.csv, line 2"]),
    Case("negative-sigma", lambda c: c.compare_data(HEAD + "lognormal_sigma,-1,-2,0,lab\n"), 2,
         ["data0.csv, line 2: lognormal_sigma cannot be -1"]),
    Case("sln-above-one", lambda c: c.compare_data(HEAD + "sln_feedforward,1.5,1.2,1.8,lab\n"), 2,
         ["sln_feedforward cannot be 1.5; its values lie in [0, 1]"]),
    Case("low-above-high", lambda c: c.compare_data(HEAD + "reciprocity_ratio,3,4,2,lab\n"), 2,
         ["line 2: need ci_low <= value <= ci_high"]),
    Case("unknown-statistic", lambda c: c.compare_data(HEAD + "reciprocity,3,2,4,lab\n"), 2,
         ["line 2: unknown statistic 'reciprocity'"]),
    Case("no-interval", lambda c: c.compare_data("statistic,value,source\nreciprocity_ratio,3,lab\n"), 2,
         ["line 2: no interval"]),
    Case("nan-value", lambda c: c.compare_data(HEAD + "reciprocity_ratio,nan,2,4,lab\n"), 2,
         ["line 2: value must be a finite number"]),
    Case("binary-csv", lambda c: ["compare", str(c.finished), "--data", c.write("b.csv", b"\xff\xfe\x00", binary=True)],
         2, ["b.csv: cannot read as UTF-8 text"]),
    Case("missing-csv", lambda c: ["compare", str(c.finished), "--data", str(c.path("none.csv"))], 2,
         ["none.csv: no such file"]),
    Case("compare-out-is-a-file", lambda c: ["compare", str(c.finished), "--out", c.write("f", "")], 2,
         ["--out", "is a file, not a folder"]),
    Case("compare-bad-density", lambda c: ["compare", str(c.finished), "--density", "2", "--out", str(c.path("o"))], 2,
         ["--density must be in (0, 1]"]),
]

# --------------------------------------------------------------------------- folder ownership: locks and kinds
def _lock(c, folder, **fields):
    """Write a lock file into ``folder`` as another process would."""
    owner = {"pid": os.getppid(), "host": socket.gethostname(), "command": "selfassembly run",
             "started": "2026-01-01 00:00:00", "token": "theirs"}
    owner.update(fields)
    (folder / LOCK_NAME).write_text(json.dumps(owner))
    return folder


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _garbage_lock(c):
    run = c.run_copy()
    (run / LOCK_NAME).write_text("garbage")
    return run


def _locked_run(c, **fields):
    return _lock(c, c.run_copy(), **fields)


def _rerun(run):
    return ["run", "--quick", "--presets", "backprop", "--out", str(run)]


def _sweep_folder(c):
    """What `selfassembly sweep` leaves in its --out folder (the parts that tell it)."""
    sweep = c.path("sweep")
    (sweep / "points").mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}")
    (sweep / "points.csv").write_text("point,seed\n")
    return sweep


def _lock_untouched(c):
    lock = json.loads((c.path("run") / LOCK_NAME).read_text())
    assert lock["token"] == "theirs", lock
    assert load_snapshots(c.path("run/snapshots/backprop.npz")).config_hash  # the results are intact


def _lock_released(c):
    assert not (c.path("run") / LOCK_NAME).exists()


def _sweep_untouched(c):
    assert sorted(p.name for p in c.path("sweep").iterdir()) == ["points", "points.csv", "sweep.json"]


def _notes_untouched(c):
    assert sorted(p.name for p in c.path("mine").iterdir()) == ["notes.txt"]


def _compare_out_folder(c):
    out = c.path("cmpout")
    out.mkdir()
    (out / "physiology.md").write_text("# an earlier comparison")
    return out


def _spoil_run_file(c, name, make):
    run = c.run_copy()
    path = run / name
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    make(path)
    return run


OWNERSHIP_CASES = [
    Case("lock-of-a-running-process", lambda c: _rerun(_locked_run(c)), 2,
         ["is in use", f"pid {os.getppid()}", "wait for it to end"], check=_lock_untouched),
    Case("lock-of-another-host", lambda c: _rerun(_locked_run(c, host="gpu-node-7", pid=_dead_pid())), 2,
         ["host gpu-node-7", "another host cannot be checked", "rm "], check=_lock_untouched),
    Case("unreadable-lock", lambda c: _rerun(_garbage_lock(c)), 2,
         ["lock file", "cannot read", "rm "]),
    Case("stale-lock-is-taken-over", lambda c: _rerun(_locked_run(c, pid=_dead_pid())), 0,
         ["took over the lock", "no longer running", "backprop: already done"], check=_lock_released),
    Case("inspect-while-a-run-writes", lambda c: ["inspect", str(_locked_run(c)), "--no-plots", "--null", "2",
                                                  "--samples", "0"], 2, ["is in use", "selfassembly run"],
         check=_lock_untouched),
    Case("compare-while-a-run-writes", lambda c: ["compare", str(_locked_run(c))], 2, ["is in use"],
         check=_lock_untouched),
    Case("sweep-folder-given-to-run", lambda c: _quick(c)[:-1] + [str(_sweep_folder(c))], 2,
         ["is a sweep folder of `selfassembly sweep`", "points/", "new or empty --out folder", "selfassembly sweep"],
         check=_sweep_untouched),
    Case("sweep-folder-given-to-compare", lambda c: ["compare", str(_sweep_folder(c))], 2,
         ["is a sweep folder", "points/<point>", "points.csv"], check=_sweep_untouched),
    Case("sweep-folder-as-compare-out", lambda c: ["compare", str(c.finished), "--out", str(_sweep_folder(c))], 2,
         ["is a sweep folder", "give --out a new or empty folder"], check=_sweep_untouched),
    Case("foreign-compare-out", lambda c: ["compare", str(c.finished), "--out",
                                           c.write("mine/notes.txt", "x").rsplit("/", 1)[0]], 2,
         ["holds files selfassembly did not write", "notes.txt", "nothing in it is overwritten"],
         check=_notes_untouched),
    Case("foreign-inspect-out", lambda c: ["inspect", str(c.finished), "--no-plots", "--null", "2", "--samples", "0",
                                           "--out", c.write("mine/notes.txt", "x").rsplit("/", 1)[0]], 2,
         ["holds files selfassembly did not write", "an output folder of `selfassembly inspect`"],
         check=_notes_untouched),
    Case("run-folder-as-inspect-out", lambda c: ["inspect", str(c.finished), "--no-plots", "--null", "2",
                                                 "--samples", "0", "--out", str(c.run_copy())], 2,
         ["is a run folder of `selfassembly run`", "not an output folder of `selfassembly inspect`"]),
    Case("compare-output-given-to-run", lambda c: _quick(c)[:-1] + [str(_compare_out_folder(c))], 2,
         ["is an output folder of `selfassembly compare`", "physiology.md", "not a run folder"]),
    Case("snapshots-is-a-file", lambda c: _rerun(_spoil_run_file(c, "snapshots", lambda p: p.write_text("x"))), 2,
         ["snapshots is a file, but a run writes a folder of that name", "move it away"]),
    Case("summary-is-a-folder", lambda c: _rerun(_spoil_run_file(c, "summary.json", lambda p: p.mkdir())), 2,
         ["summary.json is a folder, but a run writes a file"]),
    Case("compare-output-name-is-a-folder", lambda c: ["compare", str(_physiology_dir(c))], 2,
         ["physiology.json: a folder of that name is in the way", "move it away"]),
    Case("compare-out-inside-the-run", lambda c: ["compare", str(c.run_copy()), "--out", str(c.path("run/cmp"))], 0,
         ["compared backprop"], check=lambda c: (c.path("run/cmp/physiology.md").is_file()
                                                 and not c.path("run/" + LOCK_NAME).exists()) or pytest.fail("no")),
    Case("inspect-a-file", lambda c: ["inspect", c.write("results.json", "{}")], 2,
         ["results.json is a file, not a folder"], absent=["does not exist"]),
    Case("compare-a-file", lambda c: ["compare", c.write("results.json", "{}")], 2,
         ["results.json (it is a file, not a folder)"], absent=["does not exist"]),
]


def _physiology_dir(c):
    run = c.run_copy()
    (run / "physiology.json").mkdir()
    return run


# --------------------------------------------------------------------------- messages that say what a thing is
DEEP = "x = " + "[" * 5000 + "]" * 5000 + "\n"

MESSAGE_CASES = [
    Case("bom-is-read-not-an-invalid-statement", lambda c: c.config("\ufeff[training]\nepochs = 0\n"), 2,
         ["training.epochs must be >= 1"], absent=["Invalid statement", "not valid TOML"]),
    Case("nul-byte-in-toml", lambda c: c.config("[training]\nepochs = 1\x00\n"), 2,
         ["c.toml, line 2: holds a NUL byte"]),
    Case("toml-nested-thousands-deep", lambda c: c.config(DEEP), 2, ["nests arrays or inline tables 5000 levels"]),
    Case("sweep-file-given-to-run", lambda c: c.config('[training]\npresets = ["backprop"]\n[sweep]\nseeds = [0, 1]\n'),
         2, ["is a sweep file (it has a [sweep] table)", "selfassembly sweep"]),
    Case("p-1e-300", lambda c: c.config("[connectivity.W]\np = 1e-300\n"), 2,
         ["connectivity.W.p", "p = 1e-300 leaves the population W1", "use p >= 1/1536"]),
    Case("p-too-small-for-B", lambda c: c.config("[connectivity.B]\np = 0.001\n"), 2,
         ["connectivity.B.p", "population B2 (24 x 24 = 576 possible synapses)"]),
    Case("thousand-hidden-layers", lambda c: _quick(c, "--sizes", ",".join(["64"] + ["8"] * 1000 + ["10"])), 2,
         ["circuit.sizes", "1000 hidden layers", "at most"]),
    Case("mnist-folder-is-a-file", lambda c: _quick(c, "--mnist", c.write("train.gz", "x"), *MNIST_SIZES), 2,
         ["MNIST folder", "train.gz is a file, not a folder"], absent=["does not exist"]),
    Case("snapshot-given-as-config", lambda c: ["run", "--config", str(c.finished / "snapshots" / "backprop.npz")],
         2, ["backprop.npz is not UTF-8 text"]),
    Case("duplicate-preset-flag", lambda c: _quick(c, "--presets", "backprop,backprop"), 2,
         ["training.presets lists a preset twice"]),
    Case("seed-with-decimals", lambda c: _quick(c, "--seed", "1.5"), 2, ["--seed", "invalid int value: '1.5'"]),
    Case("size-with-decimals", lambda c: _quick(c, "--sizes", "64,24.5,10"), 2, ["comma-separated whole numbers"]),
    Case("zero-records-per-epoch", lambda c: _quick(c, "--records-per-epoch", "0"), 2,
         ["training.records_per_epoch must be >= 1"]),
    Case("negative-dt", lambda c: _quick(c, "--dt-ms", "-1"), 2, ["time.dt_ms must be >= 0"]),
    Case("one-training-sample", lambda c: _quick(c, "--max-train", "1"), 2,
         ["records_per_epoch = 2 is more than the 1 training samples"]),
]


def _float_steps(path):
    arrays = dict(np.load(path))
    arrays["steps"] = arrays["steps"].astype(float) + 0.5
    np.savez(path, **arrays)


def _decreasing_steps(path):
    arrays = dict(np.load(path))
    arrays["steps"] = arrays["steps"][::-1].copy()
    np.savez(path, **arrays)


SNAPSHOT_CASES += [
    Case("float-steps", lambda c: _spoil_snapshot(c, _float_steps), 2, ["'steps' must be a 1-D integer array"]),
    Case("decreasing-steps", lambda c: _spoil_snapshot(c, _decreasing_steps), 2, ["'steps' must not decrease"]),
]

CSV_CASES += [
    Case("unclosed-quote-at-the-end", lambda c: c.compare_data(HEAD + 'reciprocity_ratio,3,2,4,"lab\n'), 2,
         ["data0.csv, line 2: a quote opened on this line is not closed on it"]),
    Case("unclosed-quote-swallows-rows",
         lambda c: c.compare_data(HEAD + 'reciprocity_ratio,3,2,4,"lab\nreciprocity_ratio,3.5,2,4,lab2"\n'
                                  "lognormal_sigma,1,0.5,1.5,x\n"), 2,
         ["data0.csv, line 2:", "lines 2 to 3 would be read as one cell"]),
    Case("text-after-a-closing-quote", lambda c: c.compare_data(HEAD + 'reciprocity_ratio,3,2,4,"lab" 2024\n'), 2,
         ["data0.csv, line 2: malformed quoting"]),
    Case("unclosed-quote-in-the-header", lambda c: c.compare_data('statistic,"value,ci_low,ci_high,source\n'
                                                                  "reciprocity_ratio,3,2,4,lab\n"), 2,
         ["data0.csv, line 1: a quote opened on this line is not closed"]),
    Case("data-is-a-folder", lambda c: ["compare", str(c.finished), "--data", str(c.tmp), "--out", str(c.path("o"))], 2,
         ["is a folder, not a CSV file"]),
    Case("excel-bom-and-crlf-are-read", lambda c: c.compare_data("\ufeff" + (HEAD + "reciprocity_ratio,3,2,4,lab\n")
                                                                 .replace("\n", "\r\n")), 0, ["compared backprop"]),
    Case("snapshot-given-as-data", lambda c: ["compare", str(c.finished), "--data",
                                              str(c.finished / "snapshots" / "backprop.npz"), "--out", str(c.path("o"))],
         2, ["backprop.npz: cannot read as UTF-8 text"]),
    Case("quoted-comma-is-read", lambda c: c.compare_data(HEAD + 'reciprocity_ratio,3,2,4,"Song, Sjostrom 2005"\n'), 0,
         ["compared backprop"]),
]


# --------------------------------------------------------------------------- sweeps: folders, points, scheduler, inspect
def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


def _users_sweep_files(c):
    mine = c.path("mine")
    mine.mkdir()
    (mine / "sweep.csv").write_text("my,table\n")
    (mine / "sweep.md").write_text("# my notes\n")
    return mine


def _users_files_untouched(c):
    assert _listing(c.path("mine")) == ["sweep.csv", "sweep.md"]
    assert c.path("mine/sweep.csv").read_text() == "my,table\n" and c.path("mine/sweep.md").read_text() == "# my notes\n"


def _run_untouched(c):
    assert _listing(c.path("run")) == _listing(c.finished)
    assert load_snapshots(c.path("run/snapshots/backprop.npz")).config_hash


def _sweep_copy_untouched(c):
    assert _listing(c.path("sweep")) == _listing(c.sweep)
    assert c.path("sweep/sweep.toml").read_text() == (c.sweep / "sweep.toml").read_text()


def _no_out(c):
    assert not c.path("out").exists(), "refused, but the folder was created"


def _without(c, name):
    sweep = c.sweep_copy()
    path = sweep / name
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    return sweep


def _inspect_sweep(folder, *flags):
    return ["inspect", str(folder), "--samples", "0", *flags]


def _points(*lines):
    return '[training]\npresets = ["backprop"]\n[sweep]\n' + "".join(line + "\n" for line in lines)


SWEEP_CASES = [
    # the --out folder: one check for every writer (selfassembly.folders.claim_folder)
    Case("sweep-into-a-users-folder", lambda c: c.sweep_cmd(_users_sweep_files(c)), 2,
         ["holds files selfassembly did not write (sweep.csv, sweep.md)", "not a sweep folder",
          "choose a new or empty --out folder"], check=_users_files_untouched),
    Case("sweep-into-a-run-folder", lambda c: c.sweep_cmd(c.run_copy()), 2,
         ["is a run folder of `selfassembly run`", "not a sweep folder of `selfassembly sweep`"], check=_run_untouched),
    Case("sweep-into-another-sweep", lambda c: c.sweep_cmd(c.sweep_copy(), _points('"plasticity.eta" = [0.5]')), 2,
         ["holds a sweep of a different configuration", "[sweep] values", "'plasticity.eta': [0.5]",
          "resume that sweep with: selfassembly sweep", "sweep.toml --out"], check=_sweep_copy_untouched),
    Case("sweep-without-its-quick", lambda c: ["sweep", c.write("s.toml", SWEEP), "--out", str(c.sweep_copy())], 2,
         ["holds a sweep of a different configuration", "circuit.sizes ([64, 24, 24, 10] there, [64, 128, 128, 10] now)"],
         check=_sweep_copy_untouched),
    Case("sweep-folder-without-sweep-toml", lambda c: c.sweep_cmd(_without(c, "sweep.toml")), 2,
         ["holds", "points.csv", "but no sweep.toml", "restore its sweep.toml"]),
    Case("sweep-while-another-sweep-writes",
         lambda c: c.sweep_cmd(_lock(c, c.sweep_copy(), command="selfassembly sweep")), 2,
         ["is in use", "`selfassembly sweep`", f"pid {os.getppid()}"],
         check=lambda c: json.loads(c.path("sweep/" + LOCK_NAME).read_text())["token"] == "theirs" or pytest.fail("")),
    Case("sweep-rerun-resumes", lambda c: c.sweep_cmd(c.sweep_copy()), 0, ["1 already done, 0 to do"],
         absent=["dask:"]),
    Case("sweep-resumed-from-its-sweep-toml", lambda c: ["sweep", str(c.sweep_copy() / "sweep.toml"), "--out",
                                                          str(c.path("sweep"))], 0, ["1 already done, 0 to do"]),
    # the sweep file: read as a configuration is
    Case("sweep-file-with-a-bom-is-read", lambda c: c.sweep_cmd(c.sweep_copy(), "\ufeff" + SWEEP), 0,
         ["1 already done"], absent=["Invalid statement"]),
    Case("binary-sweep-file", lambda c: c.sweep_cmd(c.path("out"), b"\xff\xfe\x00\x01"), 2,
         ["sweep file", "s.toml is not UTF-8 text"], check=_no_out),
    Case("sweep-file-nested-thousands-deep", lambda c: c.sweep_cmd(c.path("out"), DEEP), 2,
         ["nests arrays or inline tables 5000 levels"], check=_no_out),
    Case("sweep-file-is-a-folder", lambda c: ["sweep", str(c.tmp)], 2, ["sweep file", "is a folder"]),
    # every point through run's own checks, before anything runs or is written
    Case("sweep-point-input-size", lambda c: c.sweep_cmd(c.path("out"), _points('"circuit.sizes" = [[64, 8, 10], '
                                                                                 '[60, 8, 10]]')), 2,
         ["sweep point sizes=60-8-10__seed=0", "circuit.sizes", "n_0 = 60", "make sizes[0] = 64"], check=_no_out),
    Case("sweep-point-records-above-samples",
         lambda c: c.sweep_cmd(c.path("out"), _points('"training.records_per_epoch" = [2, 100000]')), 2,
         ["sweep point records_per_epoch=100000__seed=0", "training.records_per_epoch = 100000", "use at most 240"],
         check=_no_out),
    Case("sweep-point-without-mnist", lambda c: c.sweep_cmd(c.path("out"), _points(
        '"data.dataset" = ["digits", "mnist"]', '"circuit.sizes" = [[64, 8, 10], [784, 8, 10]]',
        'zip = ["data.dataset", "circuit.sizes"]').replace("[sweep]", f'[data]\nmnist_dir = "{c.path("nowhere")}"\n'
                                                          "[sweep]")), 2,
         ["sweep point dataset=mnist__sizes=784-8-10__seed=0", "MNIST folder", "nowhere does not exist"], check=_no_out),
    Case("sweep-point-too-large-for-memory",
         lambda c: c.sweep_cmd(c.path("out"), _points('"circuit.sizes" = [[64, 8, 10], [64, 100000, 10]]')), 2,
         ["sweep point sizes=64-100000-10__seed=0", "GiB of memory", "SELFASSEMBLY_MEMORY_LIMIT_GB"], check=_no_out),
    Case("sweep-scheduler-not-an-address", lambda c: c.sweep_cmd(c.path("out"), None, "--scheduler", "localhost"), 2,
         ["--scheduler localhost is not a Dask scheduler address", "tcp://HOST:8786"], check=_no_out),
    # inspect on a sweep folder
    Case("inspect-sweep-into-out", lambda c: _inspect_sweep(c.sweep_copy(), "--out", str(c.path("v"))), 0,
         ["point base (seeds [0]):", "backprop: STRUCTURED", "verdicts.json"],
         check=lambda c: (c.path("v/verdicts.json").is_file() and not c.path("sweep/inspect").exists()
                          and not c.path("v/" + LOCK_NAME).exists()) or pytest.fail("verdicts not in --out")),
    Case("inspect-sweep-unknown-preset", lambda c: _inspect_sweep(c.sweep_copy(), "--presets", "kolen_pollack"), 2,
         ["--presets: kolen_pollack is not run by the sweep", "its presets: backprop"],
         check=lambda c: not c.path("sweep/inspect").exists() or pytest.fail("wrote verdicts")),
    Case("inspect-empty-sweep", lambda c: _inspect_sweep(_without(c, "points/seed=0")), 2,
         ["is a sweep folder with no finished point yet", "none of its 1 points has results",
          "selfassembly sweep", "sweep.toml --out"],
         check=lambda c: not c.path("sweep/inspect").exists() or pytest.fail("wrote verdicts")),
    Case("inspect-sweep-foreign-points-csv",
         lambda c: _inspect_sweep(c.sweep_copy().joinpath("points.csv").write_text("a,b\n1,2\n") and c.path("sweep")),
         2, ["points.csv is not a points table written by `selfassembly sweep`", "['a', 'b']"]),
    Case("inspect-while-the-sweep-writes",
         lambda c: _inspect_sweep(_lock(c, c.sweep_copy(), command="selfassembly sweep")), 2,
         ["is in use", "`selfassembly sweep`"]),
]


AREAS = {"config": CONFIG_CASES, "flags": FLAG_CASES, "folders": FOLDER_CASES, "snapshots": SNAPSHOT_CASES,
         "idx": IDX_CASES, "csv": CSV_CASES, "ownership": OWNERSHIP_CASES, "messages": MESSAGE_CASES,
         "sweeps": SWEEP_CASES}
ALL = [pytest.param(area, case, id=f"{area}-{case.id}") for area, cases in AREAS.items() for case in cases]


@pytest.mark.parametrize("area,case", ALL)
def test_bad_input(area, case, tmp_path, finished_run, request, capsys):
    # the finished sweep is made only for the cases that use it
    ctx = Ctx(tmp_path, finished_run, request.getfixturevalue("finished_sweep") if area == "sweeps" else None)
    argv = case.argv(ctx)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals (a flag value it cannot parse)
        code = exc.code
    out, err = capsys.readouterr()
    text = out if case.code == 0 else err
    assert code == case.code, f"exit {code}, expected {case.code}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    assert "Traceback" not in err and "Brian 2 encountered" not in err, err
    for name in case.names:
        assert name in text, f"{name!r} not in:\n{text[-3000:]}"
    for name in case.absent:
        assert name not in out + err, f"{name!r} unexpectedly in the output"
    if case.code == 2:  # one line (argparse's refusals add its usage lines above it)
        assert len([line for line in err.splitlines() if line.startswith("selfassembly")]) == 1, err
    if case.check:
        case.check(ctx)


def test_the_table_covers_every_area():
    counts = {area: len(cases) for area, cases in AREAS.items()}
    assert sum(counts.values()) >= 125 and min(counts.values()) >= 6, counts


# --------------------------------------------------------------------------- the error path itself
def test_interrupt_says_how_to_resume(tmp_path, capsys, monkeypatch):
    import selfassembly.experiment as experiment

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "run_preset", interrupted)
    out = tmp_path / "out"
    assert main(["run", "--quick", "--presets", "backprop", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and f"--out {out}" in err and "selfassembly run --quick" in err
    assert "Traceback" not in err


def test_internal_error_is_a_traceback_not_a_brian2_bug_and_leaves_no_debug_files(tmp_path):
    """A bug exits 1 with its traceback, says it is selfassembly's, and Brian2 keeps no files in the temp folder."""
    script = ("import selfassembly.cli as c\n"
              "def boom(args):\n    raise ZeroDivisionError('planted bug')\n"
              "c._presets = boom\nraise SystemExit(c.main(['presets']))\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 1, res.stderr
    assert "Traceback" in res.stderr and "ZeroDivisionError: planted bug" in res.stderr
    assert "a bug in selfassembly" in res.stderr and "Brian 2 encountered" not in res.stderr
    assert not list(tmp_path.glob("brian_*")), list(tmp_path.iterdir())


def test_version_and_help_show_defaults(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"selfassembly {__version__}"
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, default in [("--epochs", "(default: 10; --quick: 1)"), ("--seed", "(default: 0)"),
                          ("--eta", "(default: 0.02)"), ("--sizes", "(default: 64,128,128,10; --quick: 64,24,24,10)")]:
        assert flag in text and default in text, (flag, default)


def test_mnist_dir_is_stored_absolute(tmp_path, monkeypatch):
    from selfassembly.config import ExperimentConfig

    monkeypatch.chdir(tmp_path)
    config = ExperimentConfig(dataset="mnist", mnist_dir="data/mnist", sizes=[784, 8, 10])
    assert config.mnist_dir == str(tmp_path / "data" / "mnist")
    assert f'mnist_dir = "{tmp_path / "data" / "mnist"}"' in config.to_toml()


def test_summary_and_snapshot_carry_the_config_hash(finished_run):
    from selfassembly.config import load_config

    h = load_config(finished_run / "config.toml").config_hash()
    summary = json.loads((finished_run / "summary.json").read_text())
    assert summary["config_hash"] == h and summary["presets"]["backprop"]["config_hash"] == h
    assert load_snapshots(finished_run / "snapshots" / "backprop.npz").config_hash == h
