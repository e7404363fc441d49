"""SIGTERM and SIGINT, handled without doing any work inside the signal handler.

Orchestrators (Airflow, Dagster, Kubernetes, Meltano) stop runs with SIGTERM. A Python
signal handler runs in the main thread between two bytecodes, possibly while that thread
holds a lock (the logging lock, a file's): a handler that logs or drains batches can then
deadlock the delivery threads. So the handler here only records the signal. It raises
:class:`Interrupted` at once only when the main thread is parked in a wait marked safe
(a blocking read of stdin, a wait for a free delivery slot), where no lock is held;
otherwise the main thread raises it at its next :meth:`Interrupt.check`, which the
record loop calls for every input line. The shutdown itself (stop reading, let requests
in flight finish within a grace period, write STATE and the summary) runs outside the
handler, in the ordinary flow of the main thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO, TypeVar

_Line = TypeVar("_Line", str, bytes)


class Interrupted(BaseException):
    """The run was asked to stop by a signal; a BaseException so no handler eats it.

    ``exit_code`` follows the shell's convention, 128 + the signal's number: 143 for
    SIGTERM, 130 for SIGINT.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


class Interrupt:
    """Records termination signals and turns them into :class:`Interrupted` safely."""

    def __init__(self) -> None:
        self.signals: list[int] = []
        self._safe = False

    def install(self) -> None:
        """Handle SIGTERM and SIGINT with :meth:`handle` (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.handle)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler: record the signal; raise only inside a safe wait.

        It takes no lock and writes no log line: list.append and attribute reads are
        atomic under the GIL.
        """
        self.signals.append(signum)
        if self._safe and len(self.signals) == 1:
            self._safe = False
            raise Interrupted(signum)

    def check(self) -> None:
        """Raise :class:`Interrupted` if a signal has arrived (called at safe points)."""
        if self.signals:
            raise Interrupted(self.signals[0])

    @contextmanager
    def safe_wait(self) -> Iterator[None]:
        """Mark a blocking wait in which the handler may raise at once."""
        self.check()
        self._safe = True
        try:
            yield
        finally:
            self._safe = False

    def lines(self, source: IO[_Line] | Iterable[_Line]) -> Iterator[_Line]:
        """Yield ``source``'s lines; stop with :class:`Interrupted` once a signal came.

        Each read is a safe wait: a tap that sends nothing cannot keep the process alive
        after SIGTERM. A signal during the processing of a line is acted on before the
        next line is read.
        """
        readline = getattr(source, "readline", None)
        if readline is None:  # a plain iterable of lines, e.g. in tests
            for line in source:
                self.check()
                yield line
            return
        signals = self.signals
        while True:
            if signals:
                raise Interrupted(signals[0])
            self._safe = True
            line = readline()
            self._safe = False
            if not line:
                return
            yield line


PROCESS = Interrupt()
"""The process's interrupt: installed by the command before anything else is imported."""
