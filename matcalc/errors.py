"""Errors, source positions and exit statuses.

Library code raises; only the CLI prints. Every error carries a message, an
optional span into the text it came from, and an optional hint. Line and
column are computed only when the error is shown.
"""

from __future__ import annotations

import gc
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum, unique
from typing import ClassVar


@unique
class ExitStatus(IntEnum):
    OK = 0
    FALSE = 1  # a checked identity is false; no closed form found
    INPUT = 2  # bad input or usage
    UNSUPPORTED = 3  # well-formed input that matcalc cannot handle yet
    INTERNAL = 4  # matcalc's own fault: a result failed its self-check


@dataclass(frozen=True)
class Span:
    """A range of characters: `start` is 0-based, `end` is one past the last."""

    start: int
    end: int

    def cover(self, other: Span) -> Span:
        return Span(min(self.start, other.start), max(self.end, other.end))


NO_SPAN = Span(0, 0)


class MatcalcError(Exception):
    """The root of every error matcalc raises on purpose."""

    exit_code: ClassVar[int] = ExitStatus.INPUT

    def __init__(self, message: str, *, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.source: str | None = None

    def with_source(self, source: str) -> MatcalcError:
        if self.source is None:
            self.source = source
        return self

    def column(self) -> int | None:
        """The 1-based column of the span's start on its line."""
        if self.span is None or self.source is None:
            return None
        line_start = self.source.rfind("\n", 0, self.span.start) + 1
        return self.span.start - line_start + 1

    def __str__(self) -> str:
        return format_error(self)


class InputError(MatcalcError):
    """Input that is not well formed or does not make sense."""


class TokenizeError(InputError):
    pass


class ParseError(InputError):
    pass


class DeclarationError(InputError):
    pass


class UnknownSymbolError(InputError):
    pass


class ShapeError(InputError):
    pass


class FileError(InputError):
    """A file that cannot be read as text; `line` is where the problem is (1 when it is the whole file)."""

    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.line = line


class UnsupportedError(MatcalcError):
    """Well-formed input that matcalc cannot handle yet."""

    exit_code: ClassVar[int] = ExitStatus.UNSUPPORTED


def caret_lines(source: str, span: Span) -> tuple[str, str]:
    """The line of `source` that holds `span`, and a line of carets under it.

    >>> caret_lines("x*A + b", Span(0, 3))
    ('x*A + b', '^^^')
    >>> caret_lines("a + (", Span(5, 5))
    ('a + (', '     ^')
    """
    first = source.rfind("\n", 0, span.start) + 1
    stop = source.find("\n", span.start)
    line = source[first:] if stop == -1 else source[first:stop]
    width = max(1, min(span.end, first + len(line)) - span.start)
    return line, " " * (span.start - first) + "^" * width


def format_error(error: MatcalcError) -> str:
    """The plain-text form the CLI prints: message, source line, carets, hint."""
    column = error.column()
    head = f"error: {error.message}" + (f" (column {column})" if column is not None else "")
    lines = [head]
    if error.source is not None and error.span is not None:
        source_line, carets = caret_lines(error.source, error.span)
        lines += ["  " + source_line, "  " + carets]
    if error.hint:
        lines += ["  " + hint_line for hint_line in error.hint.splitlines()]
    return "\n".join(lines)


class OutOfTime(BaseException):
    """Raised when a time_limit (of CPU time) runs out. A BaseException, so that no `except Exception` or
    `except MatcalcError` on the way swallows it: only the one who set the limit catches it."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise OutOfTime in the block after `seconds` of this process's CPU time: a safety net under the work
    budgets. CPU time, not wall-clock time, so that a machine busy with other work does not make an
    input that matcalc answers quickly be refused. Only in the main thread of a process with SIGPROF;
    elsewhere the block runs unbounded. An enclosing limit is restored, less the time spent, when the
    block ends. An import in progress is never interrupted (the limit fires just after it)."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        # try again shortly: now, if this is an import (never leave a half-imported module behind) or a
        # finalizer or garbage-collector callback (which would swallow the exception); later, as a backstop,
        # in case the exception raised here is swallowed anyway. Leaving the block disarms it.
        signal.setitimer(signal.ITIMER_PROF, 0.05)
        if not _interruptible(frame):
            return
        raise OutOfTime(seconds)

    start = time.process_time()
    previous_handler = signal.signal(signal.SIGPROF, alarm)
    outer_remaining, _ = signal.setitimer(signal.ITIMER_PROF, seconds)
    if 0 < outer_remaining < seconds:
        signal.setitimer(signal.ITIMER_PROF, outer_remaining)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous_handler)
        if outer_remaining:
            signal.setitimer(signal.ITIMER_PROF, max(outer_remaining - (time.process_time() - start), 1e-3))


def _interruptible(frame) -> bool:
    """Whether an exception raised in the interrupted code reaches the block: not inside an import, a
    __del__ method or a garbage-collector callback."""
    callbacks = {getattr(callback, "__code__", None) for callback in gc.callbacks}
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith("<frozen importlib") or code.co_name == "__del__" or code in callbacks:
            return False
        frame = frame.f_back
    return True
