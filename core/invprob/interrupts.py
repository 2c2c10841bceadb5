"""SIGINT (Ctrl-C) and SIGTERM (``timeout``, Slurm, Docker, systemd) end a run the same way.

What a signal does depends on the phase the run is in:

- ``abort`` (start-up: loading plugins, validating, building): raise :class:`Interrupted`
  at once; there is nothing to save.
- ``stop`` (solving): the first signal asks the solver to stop after its current step, and
  the best result so far is written as usual. A second one is only acknowledged: the solver
  may be assembling that result just then, and a second Ctrl-C must not discard it. A third
  raises :class:`Interrupted`, the way out of a step that never ends (the batches already
  solved are still written).
- ``protect`` (writing the results): the signal is noted and nothing is raised, so that
  the result on disk is complete before the process ends.

An interrupted command exits with ``128 + the signal's number`` (130 for Ctrl-C, 143 for
SIGTERM), the shell's convention, so that scripts can tell it from success and failure.
This module imports no torch: the CLI installs its handlers before anything heavy loads.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
Phase = Literal["abort", "stop", "protect"]


class Interrupted(KeyboardInterrupt):
    """A signal (``signum``) asked invprob to abort; raised by its own handlers only."""

    def __init__(self, signum: int):
        super().__init__(signal_name(signum))
        self.signum = signum


def signal_name(signum: int) -> str:
    """``"SIGTERM"`` for 15."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_code(signum: int | None) -> int:
    """The exit status of a command a signal ended: ``128 + signum`` (130 without one)."""
    return 128 + int(signum if signum is not None else signal.SIGINT)


class Interrupts:
    """Handlers for SIGINT and SIGTERM whose effect follows the run's phase (module docstring).

    ``signum`` is the first signal received (None while none was); ``on_stop`` is called by
    the first signal of the ``stop`` phase (the run asks its solver to stop there).
    """

    def __init__(self, phase: Phase = "abort") -> None:
        self.phase: Phase = phase
        self.signum: int | None = None
        self.count = 0
        self.on_stop: Callable[[], None] | None = None

    @property
    def received(self) -> bool:
        return self.signum is not None

    def handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.signum is None:
            self.signum = signum
        name = signal_name(signum)
        if self.phase == "protect":
            _say(f"{name} received while the results are written: they are finished first")
            return
        if self.phase == "stop" and self.count == 1:
            _say(f"\ninterrupted ({name}): finishing the current step and saving the best result so far")
            if self.on_stop is not None:
                self.on_stop()
            return
        if self.phase == "stop" and self.count == 2:
            _say(f"{name} again: still saving the best result so far; a third signal aborts the current batch")
            return
        raise Interrupted(signum)

    @contextlib.contextmanager
    def in_phase(self, phase: Phase) -> Iterator[Interrupts]:
        """Switch to ``phase`` inside the ``with`` block (a no-op outside the main thread)."""
        previous, self.phase = self.phase, phase
        try:
            yield self
        finally:
            self.phase = previous

    @contextlib.contextmanager
    def installed(self) -> Iterator[Interrupts]:
        """Handle SIGINT and SIGTERM inside the ``with`` block; the previous handlers after.

        Nested in another :class:`Interrupts` (a study's, around the run of one of its cells),
        no signal is forgotten: one the outer handlers received before is handled here at once
        (in the ``abort`` phase: :class:`Interrupted` is raised before the block starts), and
        the first one received here is passed on to the outer handlers when the block ends.
        Signals are delivered to the main thread only: elsewhere nothing is installed.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in SIGNALS}
        outer = next((h.__self__ for h in previous.values() if isinstance(getattr(h, "__self__", None), Interrupts)),
                     None)  # fmt: skip
        try:
            if outer is not None and outer.signum is not None and self.signum is None:
                self.handle(outer.signum, None)
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if outer is not None and outer.signum is None and self.signum is not None:
                outer.signum = self.signum


def handled_here() -> bool:
    """Whether SIGINT is handled by invprob's own :class:`Interrupts` just now.

    Then every real Ctrl-C arrives as :class:`Interrupted`, and a bare ``KeyboardInterrupt``
    was raised by code (a plugin misbehaving at import), not by the user.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    handler = signal.getsignal(signal.SIGINT)
    return isinstance(getattr(handler, "__self__", None), Interrupts)


def _say(message: str) -> None:
    with contextlib.suppress(Exception):
        print(message, file=sys.stderr, flush=True)
