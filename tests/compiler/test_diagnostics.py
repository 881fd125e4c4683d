"""Diagnostics tests: programs that must be rejected, with their errors marked inline.

In:  tests/diagnostics/NAME.apy. A trailing comment marks an error the compiler
     must report on that line:

         x = "a" + 1  # E: unsupported operand types for +: 'str' and 'int'
         print(y)     # E:11: name 'y' is not defined

     The text after `E:` is a substring of the message (`*` matches any text,
     for wording the contract leaves open, e.g. `argument*`); `E:COL:` also pins
     the 1-based column. One line may carry several markers. Files named
     `syntax_*` hold one syntax error each; the others 3-6 independent errors,
     all of which must be reported by one run.
Out: pass/fail per file:
     * `check_file` raises CompileError whose diagnostics are exactly the marked
       ones: every marker is matched by a distinct diagnostic on its line, and
       no diagnostic is left unmatched (no cascades, no misses);
     * `applc check FILE` exits 1 and renders each error as
       `file:line:col: error: message`, then the source line, then a caret
       under the column.
The corpus itself (markers well-formed, CPython agreeing about which files are
syntax errors) is checked without applc.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

CORPUS = Path(__file__).resolve().parent.parent / "diagnostics"
CASES = sorted(CORPUS.glob("*.apy"))
MARKER = re.compile(r"#\s*E(?::(\d+))?:\s*(.*?)\s*(?=#\s*E(?::\d+)?:|$)")
HEADER = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<message>.*)$")


@attrs.frozen
class Marker:
    line: int
    col: int | None
    text: str

    def matches(self, line: int, col: int, message: str) -> bool:
        if line != self.line or (self.col is not None and col != self.col):
            return False
        pattern = ".*".join(re.escape(part) for part in self.text.split("*"))
        return re.search(pattern, message) is not None

    def __str__(self) -> str:
        where = f"{self.line}:{self.col}" if self.col is not None else f"{self.line}"
        return f"line {where}: {self.text}"


@attrs.frozen
class Reported:
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}:{self.col}: {self.message}"


def markers(path: Path) -> list[Marker]:
    found = []
    for lineno, text in enumerate(path.read_text().splitlines(), 1):
        comment = text.find("# E")
        if comment < 0:
            continue
        for col, message in MARKER.findall(text[comment:]):
            found.append(Marker(lineno, int(col) if col else None, message))
    return found


def unmatched(expected: list[Marker], reported: list[Reported]) -> tuple[list[Marker], list[Reported]]:
    """Pair markers with distinct diagnostics; return what is left on both sides.
    Column-pinned markers choose first, being the most specific."""
    left = list(reported)
    missing = []
    for marker in sorted(expected, key=lambda m: m.col is None):
        hit = next((r for r in left if marker.matches(r.line, r.col, r.message)), None)
        if hit is None:
            missing.append(marker)
        else:
            left.remove(hit)
    return missing, left


def assert_exactly_marked(path: Path, reported: list[Reported]) -> None:
    missing, unexpected = unmatched(markers(path), reported)
    lines = [f"{path.name}:"]
    lines += [f"  not reported: {m}" for m in missing]
    lines += [f"  not marked:   {r}" for r in unexpected]
    assert not missing and not unexpected, "\n".join(lines)


def reported(diagnostics: list) -> list[Reported]:
    return [Reported(d.span.line, d.span.col, d.message) for d in diagnostics]


def same_file(reported_path: str, path: Path) -> bool:
    return Path(reported_path).resolve() == path.resolve()


# --------------------------------------------------------------------------- the compiler


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_check_reports_exactly_the_marked_errors(case: Path) -> None:
    from applc.diag import CompileError
    from applc.driver.build import check_file

    with pytest.raises(CompileError) as info:
        check_file(str(case))
    diagnostics = info.value.diagnostics
    assert all(same_file(d.span.file, case) for d in diagnostics), [str(d.span) for d in diagnostics]
    assert_exactly_marked(case, reported(diagnostics))


def test_build_reports_errors_too(tmp_path: Path) -> None:
    from applc.diag import CompileError
    from applc.driver.build import build_file

    case = CORPUS / "inventory.apy"
    with pytest.raises(CompileError) as info:
        build_file(str(case), target="hosted", out=str(tmp_path / "never"))
    assert_exactly_marked(case, reported(info.value.diagnostics))
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_cli_check_renders_every_error(case: Path, apy) -> None:
    result = apy.cli("check", str(case))
    assert result.status == 1, result.describe()
    assert result.stdout == b"", "diagnostics belong on stderr"
    rendered = parse_rendered(result.stderr.decode(), case)
    assert_exactly_marked(case, rendered)


def parse_rendered(stderr: str, case: Path) -> list[Reported]:
    """Every `file:line:col: error: message` header, checked to be followed by
    the source line and a caret under the column."""
    source = case.read_text().splitlines()
    out = stderr.splitlines()
    reported = []
    for i, text in enumerate(out):
        header = HEADER.match(text)
        if header is None:
            continue
        line, col = int(header["line"]), int(header["col"])
        assert same_file(header["file"], case), text
        assert i + 2 < len(out), f"no source line and caret after: {text}"
        assert_quotes(out[i + 1], out[i + 2], source[line - 1], col, text)
        reported.append(Reported(line, col, header["message"]))
    assert reported, f"no diagnostics in:\n{stderr}"
    return reported


def assert_quotes(quoted: str, caret: str, source_line: str, col: int, header: str) -> None:
    assert quoted.endswith(source_line) and not quoted[: len(quoted) - len(source_line)].strip(), (
        f"after {header!r} expected the source line {source_line!r}, got {quoted!r}"
    )
    indent = len(quoted) - len(source_line)
    assert "^" in caret and caret.index("^") - indent == col - 1, (
        f"after {header!r} the caret is not under column {col}:\n{quoted}\n{caret}"
    )


# --------------------------------------------------------------------------- the corpus itself


def test_corpus_shape() -> None:
    assert len([c for c in CASES if c.name.startswith("syntax_")]) >= 3
    assert len([c for c in CASES if not c.name.startswith("syntax_")]) >= 7
    for case in CASES:
        count = len(markers(case))
        wanted = (1, 1) if case.name.startswith("syntax_") else (3, 6)
        assert wanted[0] <= count <= wanted[1], f"{case.name}: {count} markers"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_corpus_agrees_with_cpython_about_syntax(case: Path) -> None:
    """Type errors are valid Python; syntax errors are CPython's syntax errors, on the marked line."""
    text = case.read_text()
    if not case.name.startswith("syntax_"):
        compile(text, str(case), "exec")
        return
    with pytest.raises(SyntaxError) as info:
        compile(text, str(case), "exec")
    assert [m.line for m in markers(case)] == [info.value.lineno]


def test_marker_syntax() -> None:
    line = "x = f(a)  # E:7: name 'a' is not defined  # E: takes 1 positional argument* but 2"
    found = MARKER.findall(line[line.find("# E") :])
    assert found == [("7", "name 'a' is not defined"), ("", "takes 1 positional argument* but 2")]
    marker = Marker(3, None, "takes 1 positional argument* but 2 were given")
    assert marker.matches(3, 1, "'f' takes 1 positional argument but 2 were given")
    assert marker.matches(3, 9, "takes 1 positional arguments but 2 were given")
    assert not marker.matches(4, 1, "takes 1 positional argument but 2 were given")
    assert not marker.matches(3, 1, "takes 1 positional argument but 3 were given")
    assert unmatched([marker], [Reported(3, 1, "takes 1 positional argument but 2 were given")]) == ([], [])
