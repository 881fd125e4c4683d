"""Diagnostics: how every phase reports a problem in the user's program.

In:  a message, the Span it is about, an optional hint.
Out: text in the one format applc uses everywhere::

    service.apy:12:9: error: cannot add 'str' and 'int'
        x = "a" + 1
            ^~~~~~~
    hint: convert with str(...) first

Phases collect diagnostics in a `Diagnostics` sink and keep going, so that one
run reports every error of a file; the driver prints them all and exits 1.
A `CompileError` carries the collected diagnostics out of the pipeline.
`InternalError` is for bugs in applc itself: it still names the source location
that was being compiled, so a user can report (and work around) it.
"""

from __future__ import annotations

import attrs

from .parse.nodes import Span


@attrs.define
class Diagnostic:
    span: Span
    message: str
    hint: str | None = None
    severity: str = "error"
    notes: list[tuple[Span, str]] = attrs.Factory(list)


class Sources:
    """The text of every file read in this compilation, for quoting lines."""

    def __init__(self) -> None:
        self._text: dict[str, list[str]] = {}

    def add(self, path: str, text: str) -> None:
        # only "\n" ends a line for Python's tokenizer (str.splitlines would also split
        # on form feeds and other separators and misplace the caret)
        self._text[path] = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    def line(self, path: str, lineno: int) -> str | None:
        lines = self._text.get(path)
        if lines is None or not (1 <= lineno <= len(lines)):
            return None
        return lines[lineno - 1]


SOURCES = Sources()


def format_diagnostic(d: Diagnostic, sources: Sources = SOURCES) -> str:
    out = [f"{d.span.file}:{d.span.line}:{d.span.col}: {d.severity}: {d.message}"]
    out.extend(_quote(d.span, sources))
    for span, note in d.notes:
        out.append(f"{span.file}:{span.line}:{span.col}: note: {note}")
        out.extend(_quote(span, sources))
    if d.hint:
        out.append(f"hint: {d.hint}")
    return "\n".join(out)


def _quote(span: Span, sources: Sources) -> list[str]:
    text = sources.line(span.file, span.line)
    if text is None:
        return []
    text = text.expandtabs(1)
    start = max(span.col - 1, 0)
    if span.end_line == span.line and span.end_col > span.col:
        width = span.end_col - span.col
    else:
        width = max(len(text.rstrip()) - start, 1)
    width = max(1, min(width, len(text) - start if len(text) > start else 1))
    return ["    " + text, "    " + " " * start + "^" + "~" * (width - 1)]


class Diagnostics:
    """A sink: phases add to it and go on; `check()` raises if anything was an error."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, span: Span, message: str, hint: str | None = None) -> None:
        self.items.append(Diagnostic(span, message, hint))

    def note_on_last(self, span: Span, note: str) -> None:
        self.items[-1].notes.append((span, note))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def check(self) -> None:
        if self.has_errors:
            raise CompileError(sorted(self.items, key=_order))


def _order(d: Diagnostic) -> tuple[str, int, int]:
    return (d.span.file, d.span.line, d.span.col)


class CompileError(Exception):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(f"{len(diagnostics)} error(s)")
        self.diagnostics = diagnostics

    def render(self) -> str:
        return "\n".join(format_diagnostic(d) for d in self.diagnostics)


class InternalError(Exception):
    """A bug in applc, reported with the source location being compiled."""

    def __init__(self, span: Span | None, message: str) -> None:
        where = f"{span.file}:{span.line}:{span.col}: " if span else ""
        super().__init__(f"{where}internal compiler error: {message}")
        self.span = span
