"""One process owns a folder at a time, and only a folder of its own kind (selfassembly.folders)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from selfassembly.config import load_config
from selfassembly.errors import RunFolderError
from selfassembly.experiment import preset_done
from selfassembly.folders import LOCK_NAME, FolderBusyError, FolderLock, claim_folder, folder_kind

# seconds per chunk, so that the first run is still training when the second starts (see test_interrupt.py)
SLOW = ["--sizes", "64,24,10", "--mode", "dynamic", "--T-present-ms", "10", "--max-train", "100",
        "--records-per-epoch", "1", "--epochs", "6"]  # long enough that a loaded machine starts the second run before the first ends


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(folder, **fields):
    folder.mkdir(parents=True, exist_ok=True)
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "command": "selfassembly run",
             "started": "2026-01-01 00:00:00", "token": "x"}
    owner.update(fields)
    (folder / LOCK_NAME).write_text(json.dumps(owner))


def test_second_concurrent_run_is_refused_at_once_and_the_first_is_intact(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-u", "-m", "selfassembly", "run", *SLOW, "--out", str(out)]
    first = subprocess.Popen(cmd + ["--presets", "backprop"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in first.stdout:
            if "presentations" in line:
                break
        t0 = time.monotonic()
        second = subprocess.run(cmd + ["--presets", "kolen_pollack"], capture_output=True, text=True, timeout=120)
        took = time.monotonic() - t0
        rest, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2, second.stderr
    assert f"pid {first.pid}" in second.stderr and "is in use" in second.stderr and "Traceback" not in second.stderr
    assert "presentations" not in second.stdout and took < 60, (took, second.stdout)
    assert first.returncode == 0, err[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["presets"]) == ["backprop"]
    assert preset_done(out, load_config(out / "config.toml"), "backprop")
    assert not (out / LOCK_NAME).exists()


def test_a_held_lock_refuses_a_second_owner_and_is_released(tmp_path):
    with claim_folder(tmp_path / "f", "run", command="first") as lock:
        assert (tmp_path / "f" / LOCK_NAME).is_file()
        with pytest.raises(FolderBusyError, match=rf"pid {os.getpid()} on host .*is writing it"):
            FolderLock(tmp_path / "f", "second").acquire()
        assert lock.held
    assert not (tmp_path / "f" / LOCK_NAME).exists()


def test_a_stale_lock_of_this_host_is_taken_over_with_a_note(tmp_path):
    pid = _dead_pid()
    _write_lock(tmp_path, pid=pid)
    notes = []
    with claim_folder(tmp_path, "run", echo=notes.append) as lock:
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
        assert lock.took_over["pid"] == pid
    assert notes and f"pid {pid}" in notes[0] and "no longer running" in notes[0]
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_of_another_host_is_refused_with_how_to_remove_it(tmp_path):
    _write_lock(tmp_path, host="elsewhere.example", pid=_dead_pid())
    with pytest.raises(FolderBusyError, match=r"another host cannot be checked.*rm .*\.selfassembly\.lock"):
        claim_folder(tmp_path, "run")
    assert json.loads((tmp_path / LOCK_NAME).read_text())["host"] == "elsewhere.example"  # left alone


def test_release_leaves_a_lock_that_is_not_its_own(tmp_path):
    lock = FolderLock(tmp_path).acquire()
    _write_lock(tmp_path, token="someone else")
    lock.release()
    assert (tmp_path / LOCK_NAME).exists()


@pytest.mark.parametrize("names,kind", [
    ([], "empty"), (["config.toml"], "run"), (["snapshots/"], "run"), (["points/", "sweep.json"], "sweep"),
    (["points.csv"], "sweep"), (["physiology.md", "physiology.json"], "compare"),
    (["verdicts.json", "backprop/alignment.csv"], "inspect"), (["notes.txt"], "foreign"),
    (["config.toml", "sweep.toml"], "sweep"),
])
def test_folder_kind(tmp_path, names, kind):
    for name in names:
        path = tmp_path / name
        if name.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
    (tmp_path / LOCK_NAME).write_text("{}")  # never counts as content
    assert folder_kind(tmp_path) == kind
    assert folder_kind(tmp_path / "none") == "new"


def test_the_configuration_check_runs_under_the_lock_and_a_refusal_releases_it(tmp_path):
    seen = []

    def refuse(folder):
        seen.append((folder / LOCK_NAME).is_file())
        raise RunFolderError("another configuration")

    with pytest.raises(RunFolderError, match="another configuration"):
        claim_folder(tmp_path, "run", configuration=refuse)
    assert seen == [True] and not (tmp_path / LOCK_NAME).exists()
