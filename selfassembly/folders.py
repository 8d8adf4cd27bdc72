"""Who may write in a folder: one process at a time, and only into a folder of its own kind.

Every command that writes a folder (``run``, ``inspect``, ``compare``; ``sweep`` through the same call)
takes it with :func:`claim_folder` before writing anything. That one check

* refuses a folder of another kind (a sweep folder given to ``run``, a run folder given to ``sweep``),
  and a folder holding files this project did not write, saying what the folder is and what to do;
* takes the folder's lock, so that a second process writing the same folder is refused at once;
* then runs the caller's own check of the configuration (e.g.
  :func:`selfassembly.experiment.prepare_run_folder`), under the lock.

Lock file
---------
``.selfassembly.lock`` in the folder, created atomically (``O_CREAT | O_EXCL``) and holding JSON with the
owner's ``pid``, ``host``, ``command`` and start time. It is removed when the command ends, however it
ends (error, Ctrl-C, SIGTERM), except when the process is killed outright (SIGKILL, out of memory, a
crash of the machine). Such a stale lock is handled so:

* held by a process of **this host that no longer runs**: taken over, safely (see :meth:`FolderLock.acquire`:
  only one process can break a given stale lock) and with a note, so that rerunning the same command
  resumes after a kill, as it always has;
* held by a **running process** of this host: refused, naming the pid and command (if that pid now
  belongs to another program, the message says how to remove the lock);
* held by **another host**: refused (its processes cannot be checked from here), with the command that
  removes the lock once the run there is over.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

from .errors import RunFolderError
from .io import ensure_writable_folder, is_temporary_file

__all__ = ["LOCK_NAME", "FolderLock", "FolderBusyError", "claim_folder", "folder_kind", "KINDS", "RUN_NAMES",
           "SWEEP_NAMES", "COMPARE_NAMES", "INSPECT_NAMES", "claim_outputs"]

LOCK_NAME = ".selfassembly.lock"
_BREAK_NAME = LOCK_NAME + ".break"

#: everything ``selfassembly run`` (and ``inspect`` / ``compare`` by default) writes in a run folder
RUN_NAMES = ("config.toml", "metrics.csv", "summary.json", "accuracy.png", "alignment.png", "snapshots",
             "build", "inspect", "physiology.json", "physiology.md", "physiology_statistics.png",
             "physiology_triads.png")
#: what ``selfassembly sweep`` writes in a sweep folder (phase_* / curves_* figures besides)
SWEEP_NAMES = ("sweep.toml", "points.csv", "points", "sweep.csv", "sweep.json", "sweep.md", "inspect", "build")
#: the files that tell a sweep folder
SWEEP_MARKERS = ("sweep.toml", "sweep.json", "points.csv", "points")
#: what ``selfassembly compare`` writes
COMPARE_NAMES = ("physiology.json", "physiology.md", "physiology_statistics.png", "physiology_triads.png")
#: what ``selfassembly inspect`` writes: OUT/verdicts.json, OUT/overview.png and per preset OUT/<preset>/...
INSPECT_NAMES = ("verdicts.json", "overview.png")
INSPECT_PRESET_NAMES = ("alignment.csv", "motifs.json", "graph.graphml", "circuit.png", "feedback_heatmaps.png",
                        "timecourse.png")

#: what each kind of folder is, in messages
KINDS = {
    "run": "a run folder of `selfassembly run`",
    "sweep": "a sweep folder of `selfassembly sweep`",
    "compare": "an output folder of `selfassembly compare`",
    "inspect": "an output folder of `selfassembly inspect`",
}


class FolderBusyError(RunFolderError):
    """The folder is locked by another process (or by a lock that cannot be checked)."""


# --------------------------------------------------------------------------- what a folder is
def _entries(folder):
    """Names in ``folder`` (folders with a trailing /), without the lock and the temporaries of a killed write."""
    return sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                  if p.name not in (LOCK_NAME, _BREAK_NAME) and not is_temporary_file(p)
                  and not p.name.startswith(".write-check."))


def _is_inspect_preset_dir(path):
    return path.is_dir() and all(p.name in INSPECT_PRESET_NAMES or is_temporary_file(p) for p in path.iterdir())


def folder_kind(path):
    """What ``path`` is: ``"new"``, ``"file"``, ``"empty"``, ``"sweep"``, ``"run"``, ``"compare"``,
    ``"inspect"`` or ``"foreign"`` (holds files no command of this project writes there).

    A sweep folder is told by sweep.toml, sweep.json, points.csv or points/; a run folder by its
    config.toml (or snapshots/); the output folders of compare and inspect by holding only what those write.
    """
    path = Path(path)
    if not path.exists():
        return "new"
    if not path.is_dir():
        return "file"
    names = _entries(path)
    if not names:
        return "empty"
    bare = {n.rstrip("/") for n in names}
    if bare & set(SWEEP_MARKERS):
        return "sweep"
    if "config.toml" in bare or "snapshots" in bare:  # (a run folder whose config.toml was removed, too)
        return "run"
    if bare <= set(COMPARE_NAMES):
        return "compare"
    if all(n in INSPECT_NAMES or _is_inspect_preset_dir(path / n) for n in bare):
        return "inspect"
    return "foreign"


def _shown(path):
    names = _entries(Path(path))
    return ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")


def _refusal(path, found, kind, flag, command):
    """The message for a folder of kind ``found`` given to a command that makes a folder of ``kind``."""
    if found == "file":
        return f"{flag} {path} is a file, not a folder; give a folder path"
    if found == "sweep":
        markers = [m + ("/" if m == "points" else "") for m in SWEEP_MARKERS if (Path(path) / m).exists()]
        what = f"{path} is a sweep folder of `selfassembly sweep` (it holds {', '.join(markers)}), not "
        if kind == "run":
            return (what + f"a run folder; give `{command}` a new or empty {flag} folder (each point of the sweep "
                    f"is a run folder under {Path(path) / 'points'}/; rerun the sweep with `selfassembly sweep "
                    f"SWEEP.toml --out {path}`)")
        return (what + f"{KINDS[kind]}; give {flag} a new or empty folder, or point `{command}` at one point's "
                f"run folder under {Path(path) / 'points'}/")
    if found == "run":
        return (f"{path} is a run folder of `selfassembly run` (it has config.toml), not {KINDS[kind]}; "
                f"give `{command}` a new or empty {flag} folder, so that the run's results stay as they are")
    if found in ("compare", "inspect"):
        return (f"{path} is {KINDS[found]} (it holds {_shown(path)}), not {KINDS[kind]}; give `{command}` a new "
                f"or empty {flag} folder")
    if kind == "run":  # the wording users of `run` know (and the tests name)
        return (f"{path} is not empty and has no config.toml, so it is not a selfassembly run folder (it holds "
                f"{_shown(path)}); choose a new or empty {flag} folder, so that nothing in it is overwritten (if it "
                "is a run folder whose config.toml was removed, restore that file)")
    return (f"{path} holds files selfassembly did not write ({_shown(path)}), so it is not {KINDS[kind]}; "
            f"choose a new or empty {flag} folder, so that nothing in it is overwritten")


def check_kind(path, kind, accept=(), flag="--out", command=None):
    """Refuse ``path`` unless it is new, empty, of ``kind`` or of a kind in ``accept`` (read only)."""
    command = command or f"selfassembly {kind}"
    found = folder_kind(path)
    if found not in ("new", "empty", kind, *accept):
        raise RunFolderError(_refusal(path, found, kind, flag, command))
    return found


# --------------------------------------------------------------------------- the lock
def _pid_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return True
    return True


def _read_lock(path):
    """The lock's JSON, {} if it is unreadable or half written, None if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


class FolderLock:
    """The lock file of one folder, held by this process (a context manager; see the module docstring)."""

    def __init__(self, folder, command="selfassembly"):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command
        self.token = uuid.uuid4().hex
        self.held = False
        self.took_over = None  # the stale lock this one replaced, if any

    def _content(self):
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                           "started": time.strftime("%Y-%m-%d %H:%M:%S"), "token": self.token}) + "\n"

    def _create(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(self._content())
        self.held = True

    def acquire(self):
        """Take the lock, or raise :class:`FolderBusyError` naming its holder and what to do.

        A stale lock of this host is broken under a second lock file (``.selfassembly.lock.break``,
        also created with ``O_EXCL``): the breaker reads the lock again and removes it only if it is
        still the same stale one, so two processes can never both take the folder.
        """
        for attempt in range(10):
            try:
                self._create()
                return self
            except FileExistsError:
                pass
            owner = _read_lock(self.path)
            if owner is None:
                continue  # released meanwhile: try again
            if not owner and attempt < 9:  # just created by another process, not yet written
                time.sleep(0.1)
                continue
            self._refuse_unless_stale(owner)
            if self._break(owner):
                self.took_over = owner
        raise FolderBusyError(f"{self.folder} is being claimed by other processes at the same time; wait and retry")

    def _refuse_unless_stale(self, owner):
        pid, host = owner.get("pid"), owner.get("host")
        held = (f"{self.folder} is in use: its lock file {self.path} says `{owner.get('command', 'selfassembly')}` "
                f"(pid {pid} on host {host}, since {owner.get('started', '?')}) is writing it")
        if not isinstance(pid, int) or not isinstance(host, str):
            raise FolderBusyError(f"{self.folder} has a lock file {self.path} that selfassembly cannot read (being "
                                  f"written, or damaged); if no selfassembly command is using the folder, remove it "
                                  f"(rm {self.path}) and rerun")
        if host != socket.gethostname():
            raise FolderBusyError(f"{held}; a process of another host cannot be checked from here: wait for it to "
                                  f"end, or, if it is no longer running, remove the lock (rm {self.path}) and rerun")
        if _pid_running(pid):
            raise FolderBusyError(f"{held}; wait for it to end, or write to another folder (if pid {pid} is not a "
                                  f"selfassembly command, the lock is left from a killed run: rm {self.path})")

    def _break(self, owner):
        """Remove the stale lock ``owner`` if it is still there; True if this process removed it."""
        brk = self.folder / _BREAK_NAME
        try:
            fd = os.open(brk, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if time.time() - _mtime(brk) > 60:  # a breaker killed within these few lines
                raise FolderBusyError(f"{self.folder} has a leftover {brk} from a run killed while it took over a "
                                      f"stale lock; if no selfassembly command is using the folder, remove both "
                                      f"(rm {brk} {self.path}) and rerun") from None
            time.sleep(0.05)
            return False
        try:
            os.close(fd)
            if _read_lock(self.path) == owner:
                self.path.unlink()
                return True
            return False
        finally:
            brk.unlink(missing_ok=True)

    def release(self):
        """Remove the lock file if it is still this process's."""
        if self.held:
            self.held = False
            if (_read_lock(self.path) or {}).get("token") == self.token:
                self.path.unlink(missing_ok=True)

    def note(self):
        """A line saying which stale lock was taken over ("" if none)."""
        o = self.took_over
        if not o:
            return ""
        return (f"note: took over the lock of `{o.get('command', 'selfassembly')}` (pid {o.get('pid')}, started "
                f"{o.get('started', '?')}), which is no longer running (it was killed); its finished results are kept")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False


def _mtime(path):
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


# --------------------------------------------------------------------------- the one check
def claim_folder(path, kind, *, accept=(), flag="--out", command=None, configuration=None, echo=None):
    """Take ``path`` for a command that writes a folder of ``kind``; return the held :class:`FolderLock`.

    Use as ``with claim_folder(out, "run", configuration=check) as lock: ...``; the lock is released
    when the block ends, however it ends.

    Parameters
    ----------
    path : path-like
    kind : {"run", "sweep", "compare", "inspect"}
        What the command makes of the folder.
    accept : tuple of str
        Other kinds the command may write into (``compare`` writes into a run folder by default).
    flag : str
        The option that named the folder, for messages.
    command : str
        The command, for messages and the lock file (default ``selfassembly <kind>``).
    configuration : callable, optional
        ``configuration(Path)`` runs under the lock after the folder is created: the caller's check that
        the folder holds results of the same configuration (it raises :class:`~selfassembly.errors.RunFolderError` otherwise).
    echo : callable, optional
        Receives the note when a stale lock was taken over.

    Raises
    ------
    selfassembly.errors.RunFolderError
        A file, a folder of another kind, foreign files, or (from ``configuration``) another configuration.
    FolderBusyError
        Another process holds the folder.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    command = command or f"selfassembly {kind}"
    if Path(path).is_dir():  # before creating anything (a lock) in a folder of someone else's
        ensure_writable_folder(path, flag)
        check_kind(path, kind, accept, flag, command)
    folder = ensure_writable_folder(path, flag)
    lock = FolderLock(folder, command).acquire()
    try:
        check_kind(folder, kind, accept, flag, command)  # again, under the lock
        if configuration is not None:
            configuration(folder)
    except BaseException:
        lock.release()
        raise
    if lock.took_over and echo is not None:
        echo(lock.note())
    return lock


def claim_outputs(results_dir, out_dir, kind, command, results_kind="run"):
    """Take the folder an analysis command (``inspect``, ``compare``) of ``results_dir`` writes into.

    Outputs inside the run folder (the default; or the sweep folder, ``results_kind="sweep"``) lock
    that folder itself, so that an analysis never writes into a folder that a run or sweep is writing;
    outputs elsewhere take ``out_dir`` as a folder of ``kind``.
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    res = results_dir.resolve()
    target = out_dir.resolve()
    if target == res or res in target.parents:
        return claim_folder(results_dir, results_kind, accept=(kind,) if results_kind == "run" else (),
                            flag="RESULTS_DIR", command=command)
    return claim_folder(out_dir, kind, flag="--out", command=command)
