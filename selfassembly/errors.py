"""The errors a user can cause, and the exit status each kind of problem gives.

Every error the user can fix (a bad configuration value, a missing or
malformed file, an unusable output folder) is an :class:`InputError`; the
command line prints its one-line message and exits with :data:`EXIT_INPUT`.
A run that diverged or became unstable exits with :data:`EXIT_UNSTABLE`
after every preset has been run and recorded. Anything else is a bug: the
command line prints the traceback and exits with :data:`EXIT_INTERNAL`.

========  ===================================================================
status    meaning
========  ===================================================================
0         success
1         internal error (a bug; the traceback is printed)
2         a problem with the input: configuration, data, paths, folders, files
3         a preset diverged or became unstable (the others still ran)
130       interrupted (Ctrl-C, once or twice); rerun the same command to resume
143       terminated (SIGTERM, 128 + 15, as a shell reports a process the signal
          killed, so that batch schedulers see a termination); rerun to resume
========  ===================================================================

An interrupted or terminated run never records the preset it was training:
every finished preset is kept and a rerun trains the unfinished one again.
"""
from __future__ import annotations

__all__ = ["InputError", "RunFolderError", "EXIT_OK", "EXIT_INTERNAL", "EXIT_INPUT", "EXIT_UNSTABLE",
           "EXIT_INTERRUPTED", "EXIT_TERMINATED", "Terminated"]

#: success
EXIT_OK = 0
#: a bug: the traceback is printed
EXIT_INTERNAL = 1
#: a problem with the input (one line naming it and the fix)
EXIT_INPUT = 2
#: a preset diverged or became unstable (the others still ran)
EXIT_UNSTABLE = 3
#: interrupted (Ctrl-C)
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that ``finally`` blocks run (locks released, temporary files
    removed) and an unfinished preset is left unrecorded, exactly as for Ctrl-C."""


class InputError(ValueError):
    """A problem the user can fix: the message names the file, field or path, and the fix."""


class RunFolderError(InputError):
    """An output folder cannot be used: not writable, not a folder, or holding files the project did not write."""
