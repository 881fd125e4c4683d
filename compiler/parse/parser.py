"""The apy parser: source text in, nodes.py AST out.

In:  the text of one .apy file and the path it came from.
Out: a `nodes.Module` whose every node has an exact `Span` (1-based line and
     column, end column exclusive), or a `CompileError` with one diagnostic
     pointing at the offending token: "invalid syntax: unexpected ')'",
     "invalid syntax: cannot assign to literal" and so on, or CPython's own
     words for what its tokenizer reports ("unexpected indent",
     "unterminated string literal (detected at line 3)").

    parse_module("x = f(1, y=2)\\n", "a.apy")
    -> Module("a.apy", [Assign([Name("x")], Call(Name("f"), [Constant(1)],
                                                 [Keyword("y", Constant(2))]))])

How, in three stages:

1. lark's LALR(1) parser with the grammar in apy.lark, built once per process.
   Its lexer feeds `_Layout`, a post-lexer (lark's Indenter) that applies
   Python's rules for line structure: INDENT/DEDENT from indentation with
   tabs to multiples of 8, no line breaks inside brackets, bracket matching,
   and the one place where Python needs two tokens of lookahead,
   `with (a as b, c):`, which it marks for the grammar.
2. `_Builder` walks the lark tree bottom-up and builds the nodes, one
   function per grammar rule (the rule is in the comment above it). It also
   does what the grammar leaves open: targets of assignments, the order of
   parameters and call arguments, and it folds left-associative operators.
3. String literals are decoded here (escapes exactly like CPython); f-strings
   are split into literal text and `{...}` fields, and each field's
   expression is parsed by the same grammar, with positions mapped back into
   the file, as CPython 3.11 does.

Later phases never see lark: only nodes.py and diag.py.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.indenter import Indenter

from ..diag import SOURCES, CompileError, Diagnostic
from . import nodes as n
from .nodes import Span

__all__ = ["parse_module"]


def parse_module(text: str, path: str) -> n.Module:
    """Parse the text of one file; raise CompileError on a syntax error."""
    SOURCES.add(path, text.removeprefix("\ufeff"))  # so that carets line up on line 1
    source = _Source(path, _normalize(text))
    try:
        tree = _parse(source, "file_input")
        body = _Builder(source).build(tree)
    except _SyntaxError as e:
        raise CompileError([Diagnostic(e.span, e.message, e.hint)]) from None
    return n.Module(path, body, span=source.whole_span())


def _normalize(text: str) -> str:
    """Line endings and the end of file, as Python's tokenizer sees them.

    Python reads source with universal newlines (a CRLF inside a triple-quoted
    string is one "\\n" in the value), ignores a UTF-8 byte order mark, and
    ends the last line even when the file does not.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return text


# ============================================================== positions


class _SyntaxError(Exception):
    """A syntax error with its place in the file, on its way to a CompileError."""

    def __init__(self, span: Span, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.span = span
        self.message = message
        self.hint = hint


class _Source:
    """A text being parsed and how its positions map to the file.

    The file itself maps to itself. The expression of an f-string field is
    parsed as a text of its own, "(" + expression + ")"; its `origin` is where
    that "(" would sit in the enclosing text (on the `{`), so that its spans
    land on the expression's characters in the file. Fields of f-strings
    nested in fields chain through `parent`.
    """

    def __init__(self, file: str, text: str, parent: _Source | None = None,
                 origin: tuple[int, int] = (1, 1)) -> None:
        self.file = file
        self.text = text
        self.parent = parent
        self.origin = origin

    def pos(self, line: int, col: int) -> tuple[int, int]:
        """The file position of a position in this text."""
        if self.parent is None:
            return line, col
        oline, ocol = self.origin
        if line == 1:
            return self.parent.pos(oline, ocol + col - 1)
        return self.parent.pos(oline + line - 1, col)

    def span(self, line: int, col: int, end_line: int, end_col: int) -> Span:
        start, end = self.pos(line, col), self.pos(end_line, end_col)
        return Span(self.file, start[0], start[1], end[0], end[1])

    def token_span(self, tok: Token) -> Span:
        return self.span(tok.line, tok.column, tok.end_line, tok.end_column)

    def eof_span(self) -> Span:
        """The end of the last line: where "unexpected end of file" points."""
        body = self.text.rstrip("\n")
        line, col = body.count("\n") + 1, len(body) - body.rfind("\n")
        return self.span(line, col, line, col)

    def whole_span(self) -> Span:
        eof = self.eof_span()
        return Span(self.file, 1, 1, eof.end_line, eof.end_col)

    def error(self, span: Span, message: str, hint: str | None = None) -> _SyntaxError:
        """A syntax error worded the one way applc words them.

        Python's tokenizer-level errors keep CPython's words ("unexpected
        indent"); every other message starts with "invalid syntax: ", and
        says "f-string: " when the error is inside an f-string's field.
        """
        if self.parent is not None and "f-string" not in message:
            message = "f-string: " + message.removeprefix(_INVALID)
        if not message.startswith(_TOKENIZER_ERRORS):
            message = _INVALID + message.removeprefix(_INVALID)
        return _SyntaxError(span, message, hint)


_INVALID = "invalid syntax: "

# CPython reports these from its tokenizer, as IndentationError, TabError or
# SyntaxError, with no "invalid syntax" before them.
_TOKENIZER_ERRORS = (
    "unexpected indent", "unindent does not match any outer indentation level",
    "expected an indented block", "inconsistent use of tabs and spaces in indentation",
    "too many levels of indentation", "too many nested parentheses",
    "unterminated string literal", "unterminated triple-quoted string literal",
    "invalid character", "source code cannot contain null bytes",
    "unexpected character after line continuation character",
)


def _start(x: Tree | Token) -> tuple[int, int]:
    """Where a raw child starts, counting the parentheses around it.

    lark's propagate_positions records, for a tree that was inlined through
    `?rules` such as `group`, the extent of the outermost of them as
    `container_*`. Python's ast does the same: `(a) + b` starts at "(".
    """
    if isinstance(x, Token):
        return x.line, x.column
    m = x.meta
    return getattr(m, "container_line", m.line), getattr(m, "container_column", m.column)


def _end(x: Tree | Token) -> tuple[int, int]:
    if isinstance(x, Token):
        return x.end_line, x.end_column
    m = x.meta
    return (getattr(m, "container_end_line", m.end_line),
            getattr(m, "container_end_column", m.end_column))


def _join(first: Span, last: Span) -> Span:
    return Span(first.file, first.line, first.col, last.end_line, last.end_col)


# ================================================================ layout

_OPENERS = {"LPAR": ")", "LSQB": "]", "LBRACE": "}"}
_CLOSERS = {"RPAR", "RSQB", "RBRACE"}
_MAX_NESTING = 200  # CPython's limit on open brackets ("too many nested parentheses")
_MAX_INDENT = 100  # CPython's limit on indentation levels (MAXINDENT)


class _LayoutError(Exception):
    """An error found by the post-lexer, at a position of the text being parsed."""

    def __init__(self, line: int, col: int, end_line: int, end_col: int, message: str) -> None:
        super().__init__(message)
        self.where = (line, col, end_line, end_col)
        self.message = message


def _error_at_token(tok: Token, message: str) -> _LayoutError:
    return _LayoutError(tok.line, tok.column, tok.end_line, tok.end_column, message)


class _Layout(Indenter):
    """Python's line structure on top of lark's token stream.

    Turns each _NEWLINE into _NEWLINE + _INDENT/_DEDENTs by comparing the next
    line's indentation with a stack of open indentation levels, exactly like
    CPython's tokenizer: a tab advances to the next multiple of 8, a form feed
    resets the column, and indentation that only agrees under one tab size is
    a TabError. Inside brackets, line breaks are not tokens at all. Brackets
    are matched here, so that "'(' was never closed" and "unmatched ')'" are
    reported where CPython reports them.
    """

    NL_type = "_NEWLINE"
    OPEN_PAREN_types = list(_OPENERS)
    CLOSE_PAREN_types = list(_CLOSERS)
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        # The Lark object (and so this post-lexer) is shared by every parse in
        # the process; each parse gets its own copy of the layout state.
        state = copy.copy(self)
        state.paren_level = 0
        state.indent_level = [0]
        state.alt_indent_level = [0]  # the same columns measured with tab = 1
        state.brackets = []
        return _mark_with_parens(state._process(stream))

    def _process(self, stream: Iterator[Token]) -> Iterator[Token]:
        last = None
        for tok in stream:
            if last is None and tok.type != self.NL_type and tok.column > 1:
                raise _error_at_token(tok, "unexpected indent")
            last = tok
            if tok.type == self.NL_type:
                yield from self.handle_NL(tok)
                continue
            if tok.type in _OPENERS:
                self._open(tok)
            elif tok.type in _CLOSERS:
                self._close(tok)
            yield tok
        if self.brackets:
            opener = self.brackets[-1]
            raise _error_at_token(opener, f"'{opener.value}' was never closed")
        yield from self._dedent_at_eof(last)

    def _open(self, tok: Token) -> None:
        if len(self.brackets) >= _MAX_NESTING:
            raise _error_at_token(tok, "too many nested parentheses")
        self.brackets.append(tok)
        self.paren_level += 1

    def _close(self, tok: Token) -> None:
        if not self.brackets:
            raise _error_at_token(tok, f"unmatched '{tok.value}'")
        opener = self.brackets.pop()
        if _OPENERS[opener.type] != tok.value:
            where = f" on line {opener.line}" if opener.line != tok.line else ""
            raise _error_at_token(tok, f"closing parenthesis '{tok.value}' does not match "
                                       f"opening parenthesis '{opener.value}'{where}")
        self.paren_level -= 1

    def handle_NL(self, tok: Token) -> Iterator[Token]:
        if self.paren_level > 0:
            return
        yield tok
        col, alt = _indent_columns(tok.value.rsplit("\n", 1)[1])
        # INDENT and DEDENT sit where the next line's first token starts.
        at = (tok.end_pos, tok.end_line, tok.end_column, tok.end_line, tok.end_column, tok.end_pos)
        if col > self.indent_level[-1]:
            if alt <= self.alt_indent_level[-1]:
                raise _LayoutError(*at[1:5], "inconsistent use of tabs and spaces in indentation")
            if len(self.indent_level) >= _MAX_INDENT:
                raise _LayoutError(*at[1:5], "too many levels of indentation")
            self.indent_level.append(col)
            self.alt_indent_level.append(alt)
            yield Token(self.INDENT_type, "", *at)
            return
        while col < self.indent_level[-1]:
            self.indent_level.pop()
            self.alt_indent_level.pop()
            yield Token(self.DEDENT_type, "", *at)
        if col != self.indent_level[-1]:
            raise _LayoutError(*at[1:5], "unindent does not match any outer indentation level")
        if alt != self.alt_indent_level[-1]:
            raise _LayoutError(*at[1:5], "inconsistent use of tabs and spaces in indentation")

    def _dedent_at_eof(self, last: Token | None) -> Iterator[Token]:
        if last is None:
            return
        at = (last.end_pos, last.end_line, last.end_column, last.end_line, last.end_column,
              last.end_pos)
        while len(self.indent_level) > 1:
            self.indent_level.pop()
            yield Token(self.DEDENT_type, "", *at)


def _indent_columns(indent: str) -> tuple[int, int]:
    """The column of a line's first token with tabs of 8 and of 1 (CPython's tokenizer)."""
    col = alt = 0
    for ch in indent:
        if ch == " ":
            col, alt = col + 1, alt + 1
        elif ch == "\t":
            col, alt = (col // 8 + 1) * 8, alt + 1
        elif ch == "\f":
            col = alt = 0
    return col, alt


def _mark_with_parens(tokens: Iterator[Token]) -> Iterator[Token]:
    """Mark the parentheses of `with (...):` for the grammar.

    `with (a, b):` holds two context managers and `with (a, b) as c:` one
    tuple; LALR(1) cannot tell them apart at the `(`. CPython's rule is: if the
    `)` matching the `(` right after `with` is followed by `:`, the contents
    are with-items. The brackets are already known to match here.
    """
    tokens = iter(tokens)
    for tok in tokens:
        yield tok
        if tok.type != "WITH":
            continue
        opener = next(tokens, None)
        if opener is None or opener.type != "LPAR":
            if opener is not None:
                yield opener
            continue
        held = [opener]
        depth = 1
        for t in tokens:
            held.append(t)
            if t.type in _OPENERS:
                depth += 1
            elif t.type in _CLOSERS:
                depth -= 1
                if depth == 0:
                    break
        after = next(tokens, None)
        if after is not None and after.type == "COLON":
            held[0] = Token.new_borrow_pos("WITH_LPAR", "(", held[0])
            held[-1] = Token.new_borrow_pos("WITH_RPAR", ")", held[-1])
        yield from held
        if after is not None:
            yield after


# ================================================================== lark


@lru_cache(maxsize=None)
def _lark() -> Lark:
    """The LALR parser, built once per process (and cached on disk by lark)."""
    grammar = (Path(__file__).parent / "apy.lark").read_text()
    return Lark(
        grammar,
        parser="lalr",
        lexer="basic",
        postlex=_Layout(),
        start=["file_input", "fstring_expr"],
        propagate_positions=_POSITIONED,
        maybe_placeholders=True,
        cache=True,
    )


class _Positioned:
    """Which children count for a tree's position: not the layout tokens.

    A compound statement then ends with its last statement's last token (a
    trailing `;` included, as in CPython), not at the next line's DEDENT.
    The stable repr keeps lark's on-disk cache key the same from run to run.
    """

    LAYOUT = frozenset({"_NEWLINE", "_INDENT", "_DEDENT"})

    def __call__(self, child: Any) -> bool:
        return not (isinstance(child, Token) and child.type in self.LAYOUT)

    def __repr__(self) -> str:
        return "applc.parse.parser._Positioned"


_POSITIONED = _Positioned()


def _parse(source: _Source, start: str) -> Tree:
    """Run lark on a text; turn every way it can fail into a _SyntaxError."""
    try:
        return _lark().parse(source.text, start=start)
    except _LayoutError as e:
        raise source.error(source.span(*e.where), e.message) from None
    except UnexpectedCharacters as e:
        raise _bad_character(source, e) from None
    except UnexpectedToken as e:
        raise _unexpected_token(source, e) from None
    except UnexpectedInput as e:  # any other lark complaint still names a place
        line, col = max(e.line, 1), max(e.column, 1)
        raise source.error(source.span(line, col, line, col), "unexpected input") from None


def _bad_character(source: _Source, e: UnexpectedCharacters) -> _SyntaxError:
    text, pos = source.text, e.pos_in_stream
    ch = text[pos]
    line, col = e.line, e.column
    if ch in "'\"":
        return _unterminated_string(source, pos, line, col)
    span = source.span(line, col, line, col + 1)
    if ch == "\\":
        return source.error(span, "unexpected character after line continuation character")
    if ch == "\0":
        return source.error(span, "source code cannot contain null bytes")
    if ch.isascii() and ch.isprintable():
        return source.error(span, f"unexpected character '{ch}'")
    return source.error(span, f"invalid character '{ch}' (U+{ord(ch):04X})")


def _unterminated_string(source: _Source, pos: int, line: int, col: int) -> _SyntaxError:
    text = source.text
    # The prefix letters (`b`, `rf`, ...) were lexed as a name; the literal
    # starts with them.
    start = pos
    while start > pos - 2 and start > 0 and text[start - 1] in "rRbBuUfF":
        start -= 1
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start = pos
    col -= pos - start
    quote = text[pos]
    if text.startswith(quote * 3, pos):
        detected = text.count("\n", 0, len(text.rstrip("\n"))) + 1
        what = "unterminated triple-quoted string literal"
    else:
        end = pos + 1
        while end < len(text) and text[end] != "\n":
            end += 2 if text[end] == "\\" else 1
        detected = line + text.count("\n", pos, min(end, len(text)))
        what = "unterminated string literal"
    return source.error(source.span(line, col, line, col + 1), f"{what} (detected at line {detected})")


def _unexpected_token(source: _Source, e: UnexpectedToken) -> _SyntaxError:
    tok = e.token
    at_eof = tok.type == "$END" or (tok.type == "_DEDENT" and tok.start_pos >= len(source.text))
    span = source.eof_span() if at_eof else source.token_span(tok)
    if tok.type == "_INDENT":
        return source.error(span, "unexpected indent")
    if "_INDENT" in e.expected:
        return source.error(span, "expected an indented block")
    if tok.type == "$END":
        return source.error(span, "unexpected end of file")
    if tok.type == "_NEWLINE":
        return source.error(span, "unexpected end of line")
    if tok.type == "_DEDENT":
        return source.error(span, "unexpected dedent")
    if tok.type == "NAME":
        what = f"name '{tok.value}'"
    elif tok.type == "NUMBER":
        what = f"number {tok.value}"
    elif tok.type == "STRING":
        what = "string literal"
    elif source.parent is not None and tok.start_pos == len(source.text) - 1:
        what = "end of expression"  # the ")" that closes an f-string field's text
    else:
        what = f"'{tok.value}'"
    return source.error(span, f"unexpected {what}")


# ================================================================ builder

_Rule = Callable[["_Builder", Tree, list], Any]
_RULES: dict[str, _Rule] = {}


def _builds(*rules: str) -> Callable[[_Rule], _Rule]:
    """Register a _Builder method as the builder of the named rules/aliases."""

    def register(fn: _Rule) -> _Rule:
        for rule in rules:
            _RULES[rule] = fn
        return fn

    return register


class _Param:
    """One entry of a parameter list before the order is checked: an Arg, or a
    bare `*` / `/` marker (arg is None)."""

    def __init__(self, kind: str, arg: n.Arg | None, span: Span) -> None:
        self.kind = kind  # "plain", "star", "double_star" or "slash"
        self.arg = arg
        self.span = span


class _Lit:
    """Decoded literal text of a string or f-string, with where it came from."""

    def __init__(self, value: str, span: Span) -> None:
        self.value = value
        self.span = span


class _Reduce:
    """On _Builder.build's stack: all children of `tree` are built; build it."""

    __slots__ = ("tree",)

    def __init__(self, tree: Tree) -> None:
        self.tree = tree


class _Builder:
    """Builds nodes from a lark tree, bottom-up.

    Each builder function gets the raw tree (for its meta and its raw
    children's positions) and the list of its children already built: nodes,
    lists, tokens (NAME, NUMBER, STRING, operators) or None for an absent
    `[optional]` part.
    """

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.file = source.file

    def build(self, root: Tree) -> Any:
        """Build bottom-up with an explicit stack rather than recursion, so that
        deep nesting (`- - - ... x`, `2 ** 2 ** ...`) is not limited by
        Python's recursion limit."""
        values: list = []
        todo: list = [root]
        while todo:
            item = todo.pop()
            if isinstance(item, _Reduce):
                tree = item.tree
                first = len(values) - len(tree.children)
                children = values[first:]
                del values[first:]
                values.append(_RULES[tree.data](self, tree, children))
            elif isinstance(item, Tree):
                todo.append(_Reduce(item))
                todo.extend(reversed(item.children))
            else:  # a token, or None for an absent [optional] part
                values.append(item)
        return values[0]

    # ---------------------------------------------------------------- spans

    def span(self, tree: Tree) -> Span:
        m = tree.meta
        return self.source.span(m.line, m.column, m.end_line, m.end_column)

    def outer_span(self, x: Tree | Token) -> Span:
        """The span of a raw child including parentheses around it."""
        return self.source.span(*_start(x), *_end(x))

    def tok_span(self, tok: Token) -> Span:
        return self.source.token_span(tok)

    def error(self, span: Span, message: str, hint: str | None = None) -> _SyntaxError:
        return self.source.error(span, message, hint)

    def ident(self, tok: Token) -> str:
        # Python compares identifiers after NFKC normalisation (PEP 3131).
        name = str(tok)
        return name if name.isascii() else unicodedata.normalize("NFKC", name)

    # ============================================================ statements

    # file_input: (_NEWLINE | statement)*
    @_builds("file_input")
    def file_input(self, t: Tree, c: list) -> list[n.Stmt]:
        return _flatten(c)

    # fstring_expr: group | tuple | genexp
    @_builds("fstring_expr")
    def fstring_expr(self, t: Tree, c: list) -> n.Expr:
        return c[0]

    # simple_stmts: simple_stmt (";" simple_stmt)* [";"] _NEWLINE
    @_builds("simple_stmts")
    def simple_stmts(self, t: Tree, c: list) -> list[n.Stmt]:
        return c

    # block: _NEWLINE _INDENT statement+ _DEDENT | simple_stmts
    @_builds("block")
    def block(self, t: Tree, c: list) -> list[n.Stmt]:
        return _flatten(c)

    # simple_stmt: star_expressions | yield_expr
    @_builds("expr_stmt")
    def expr_stmt(self, t: Tree, c: list) -> n.Stmt:
        return n.ExprStmt(c[0], span=self.span(t))

    @_builds("pass_stmt")
    def pass_stmt(self, t: Tree, c: list) -> n.Stmt:
        return n.Pass(span=self.span(t))

    @_builds("break_stmt")
    def break_stmt(self, t: Tree, c: list) -> n.Stmt:
        return n.Break(span=self.span(t))

    @_builds("continue_stmt")
    def continue_stmt(self, t: Tree, c: list) -> n.Stmt:
        return n.Continue(span=self.span(t))

    # assignment: star_expressions ":" expression ["=" annotated_rhs]
    @_builds("annotated_assignment")
    def annotated_assignment(self, t: Tree, c: list) -> n.Stmt:
        target, annotation, value = c
        if isinstance(target, (n.TupleExpr, n.ListExpr)):
            kind = "tuple" if isinstance(target, n.TupleExpr) else "list"
            raise self.error(target.span, f"only single target (not {kind}) can be annotated")
        if not isinstance(target, (n.Name, n.Attribute, n.Subscript)):
            raise self.error(target.span, "illegal target for annotation")
        return n.AnnAssign(target, annotation, value, span=self.span(t))

    # assignment: (star_expressions "=")+ annotated_rhs
    @_builds("plain_assignment")
    def plain_assignment(self, t: Tree, c: list) -> n.Stmt:
        *targets, value = c
        for target in targets:
            if isinstance(target, (n.Yield, n.YieldFrom)):
                raise self.error(target.span, "assignment to yield expression not possible")
            self.check_target(target, "assign")
        return n.Assign(targets, value, span=self.span(t))

    # assignment: single_target augassign annotated_rhs
    @_builds("augmented_assignment")
    def augmented_assignment(self, t: Tree, c: list) -> n.Stmt:
        target, op, value = c
        if not isinstance(target, (n.Name, n.Attribute, n.Subscript)):
            what = "tuple" if isinstance(target, n.TupleExpr) else _describe(target)
            raise self.error(target.span,
                             f"'{what}' is an illegal expression for augmented assignment")
        return n.AugAssign(target, op, value, span=self.span(t))

    # augassign: "+=" | "-=" | ... | "//="
    @_builds("augassign")
    def augassign(self, t: Tree, c: list) -> str:
        return str(c[0])[:-1]

    # return_stmt: "return" [star_expressions]
    @_builds("return_stmt")
    def return_stmt(self, t: Tree, c: list) -> n.Stmt:
        return n.Return(c[0], span=self.span(t))

    # raise_stmt: "raise" [expression ["from" expression]]
    @_builds("raise_stmt")
    def raise_stmt(self, t: Tree, c: list) -> n.Stmt:
        return n.Raise(c[0], c[1], span=self.span(t))

    # global_stmt: "global" NAME ("," NAME)*
    @_builds("global_stmt")
    def global_stmt(self, t: Tree, c: list) -> n.Stmt:
        return n.Global([self.ident(tok) for tok in c], span=self.span(t))

    # nonlocal_stmt: "nonlocal" NAME ("," NAME)*
    @_builds("nonlocal_stmt")
    def nonlocal_stmt(self, t: Tree, c: list) -> n.Stmt:
        return n.Nonlocal([self.ident(tok) for tok in c], span=self.span(t))

    # del_stmt: "del" expression ("," expression)* [","]
    @_builds("del_stmt")
    def del_stmt(self, t: Tree, c: list) -> n.Stmt:
        for target in c:
            self.check_target(target, "del")
        return n.Delete(c, span=self.span(t))

    # assert_stmt: "assert" expression ["," expression]
    @_builds("assert_stmt")
    def assert_stmt(self, t: Tree, c: list) -> n.Stmt:
        return n.Assert(c[0], c[1], span=self.span(t))

    # import_name: "import" dotted_as_name ("," dotted_as_name)*
    @_builds("import_name")
    def import_name(self, t: Tree, c: list) -> n.Stmt:
        return n.Import(c, span=self.span(t))

    # dotted_as_name: dotted_name ["as" NAME]
    @_builds("dotted_as_name")
    def dotted_as_name(self, t: Tree, c: list) -> n.Alias:
        name, asname = c
        return n.Alias(name, asname and self.ident(asname), span=self.span(t))

    # dotted_name: NAME ("." NAME)*
    @_builds("dotted_name")
    def dotted_name(self, t: Tree, c: list) -> str:
        return ".".join(self.ident(tok) for tok in c)

    # import_from: "from" import_level [dotted_name] "import" import_from_targets
    @_builds("import_from")
    def import_from(self, t: Tree, c: list) -> n.Stmt:
        level, module, names = c
        if level == 0 and module is None:
            raise self.error(self.span(t), "expected a module name after 'from'")
        return n.ImportFrom(module, names, level, span=self.span(t))

    # import_level: ("." | "...")*
    @_builds("import_level")
    def import_level(self, t: Tree, c: list) -> int:
        return sum(len(tok) for tok in c)

    # import_from_targets: "(" import_from_as_name ("," ...)* [","] ")" | ...
    @_builds("import_from_as_names")
    def import_from_as_names(self, t: Tree, c: list) -> list[n.Alias]:
        return c

    # import_from_targets: "*"
    @_builds("import_star")
    def import_star(self, t: Tree, c: list) -> list[n.Alias]:
        return [n.Alias("*", None, span=self.span(t))]

    # import_from_as_name: NAME ["as" NAME]
    @_builds("import_from_as_name")
    def import_from_as_name(self, t: Tree, c: list) -> n.Alias:
        name, asname = c
        return n.Alias(self.ident(name), asname and self.ident(asname), span=self.span(t))

    # ------------------------------------------------------- compound statements

    # decorated: decorator+ (function_def_raw | class_def_raw)
    @_builds("decorated")
    def decorated(self, t: Tree, c: list) -> n.Stmt:
        *decorators, definition = c
        definition.decorators = decorators
        return definition

    # decorator: "@" named_expression _NEWLINE
    @_builds("decorator")
    def decorator(self, t: Tree, c: list) -> n.Expr:
        return c[0]

    # function_def_raw: ["async"] "def" NAME "(" [params] ")" ["->" expression] ":" block
    @_builds("function_def_raw", "async_function_def_raw")
    def function_def_raw(self, t: Tree, c: list) -> n.Stmt:
        name, args, returns, body = c
        name_span = _join(self.span(t), self.tok_span(name))
        if args is None:
            end = Span(self.file, name_span.end_line, name_span.end_col,
                       name_span.end_line, name_span.end_col)
            args = n.Arguments([], span=end)
        return n.FunctionDef(self.ident(name), args, returns, body, [],
                             is_async=t.data == "async_function_def_raw",
                             span=self.span(t), name_span=name_span)

    # class_def_raw: "class" NAME ["(" [arguments] ")"] ":" block
    @_builds("class_def_raw")
    def class_def_raw(self, t: Tree, c: list) -> n.Stmt:
        name, arguments, body = c
        bases, keywords = arguments or ([], [])
        return n.ClassDef(self.ident(name), bases, keywords, body, [],
                          span=self.span(t),
                          name_span=_join(self.span(t), self.tok_span(name)))

    # if_stmt: "if" named_expression ":" block elif_clause* [else_block]
    @_builds("if_stmt")
    def if_stmt(self, t: Tree, c: list) -> n.Stmt:
        test, body, *elifs, orelse = c
        orelse = orelse or []
        # `elif` is an If nested in the orelse of the one before (like ast);
        # each runs from its keyword to the end of the whole statement.
        span = self.span(t)
        for clause_tree, clause_test, clause_body in reversed(elifs):
            orelse = [n.If(clause_test, clause_body, orelse,
                           span=_join(self.span(clause_tree), span))]
        return n.If(test, body, orelse, span=span)

    # elif_clause: "elif" named_expression ":" block
    @_builds("elif_clause")
    def elif_clause(self, t: Tree, c: list) -> tuple:
        return (t, c[0], c[1])

    # else_block: "else" ":" block
    @_builds("else_block", "finally_block")
    def else_block(self, t: Tree, c: list) -> list[n.Stmt]:
        return c[0]

    # while_stmt: "while" named_expression ":" block [else_block]
    @_builds("while_stmt")
    def while_stmt(self, t: Tree, c: list) -> n.Stmt:
        test, body, orelse = c
        return n.While(test, body, orelse or [], span=self.span(t))

    # for_stmt: ["async"] "for" star_targets "in" star_expressions ":" block [else_block]
    @_builds("for_stmt", "async_for_stmt")
    def for_stmt(self, t: Tree, c: list) -> n.Stmt:
        target, iterable, body, orelse = c
        self.check_target(target, "for")
        return n.For(target, iterable, body, orelse or [], is_async=t.data == "async_for_stmt",
                     span=self.span(t))

    # with_stmt: ["async"] "with" with_item ("," with_item)* ":" block
    #          | ["async"] "with" WITH_LPAR [with_paren_contents] WITH_RPAR ":" block
    @_builds("with_stmt", "async_with_stmt")
    def with_stmt(self, t: Tree, c: list) -> n.Stmt:
        *items, body = c
        if items and isinstance(items[0], Token):
            items = self.paren_with_items(*items)
        return n.With(items, body, is_async=t.data == "async_with_stmt",
                      span=self.span(t))

    def paren_with_items(self, lpar: Token, contents: Any, rpar: Token) -> list:
        """`with (...):` holds with-items if it can, else one expression.

        CPython tries `'(' ','.with_item+ ','? ')'` first, where a with_item is
        `expression ['as' star_target]`; only if that fails are the
        parentheses a tuple, a group or a generator expression.
        """
        parens = _join(self.tok_span(lpar), self.tok_span(rpar))
        if contents is None:
            return [n.WithItem(n.TupleExpr([], span=parens), None, span=parens)]
        if isinstance(contents, n.Expr):  # a generator or a yield in parentheses
            if isinstance(contents, n.GeneratorExp):
                contents.span = parens
            return [n.WithItem(contents, None, span=contents.span)]
        triples, trailing_comma = contents
        plain = all(not isinstance(e, (n.Starred, n.NamedExpr)) for e, _, _ in triples)
        if plain:
            return [n.WithItem(e, target, span=s) for e, target, s in triples]
        elts = [e for e, _, _ in triples]
        if len(elts) == 1 and not trailing_comma:
            if isinstance(elts[0], n.Starred):
                raise self.error(elts[0].span, "cannot use starred expression here")
            return [n.WithItem(elts[0], None, span=elts[0].span)]
        return [n.WithItem(n.TupleExpr(elts, span=parens), None, span=parens)]

    # with_paren_contents: with_paren_item ("," with_paren_item)* [","]
    @_builds("with_paren_items")
    def with_paren_items(self, t: Tree, c: list) -> tuple[list, bool]:
        trailing_comma = _end(t.children[-1]) != (t.meta.end_line, t.meta.end_column)
        if any(target is not None for _, target, _ in c):
            for expr, _, _ in c:
                if isinstance(expr, (n.Starred, n.NamedExpr)):
                    raise self.error(expr.span, f"unexpected {_describe(expr)} "
                                                "among with-items")
        return c, trailing_comma

    # with_paren_item: star_named_expression ["as" star_target]
    @_builds("with_paren_item")
    def with_paren_item(self, t: Tree, c: list) -> tuple:
        expr, target = c
        if target is not None:
            self.check_target(target, "with")
        return (expr, target, self.span(t))

    # with_paren_contents: named_expression for_if_clauses
    @_builds("with_paren_genexp")
    def with_paren_genexp(self, t: Tree, c: list) -> n.Expr:
        return n.GeneratorExp(c[0], c[1], span=self.span(t))

    # with_item: expression ["as" star_target]
    @_builds("with_item")
    def with_item(self, t: Tree, c: list) -> n.WithItem:
        expr, target = c
        if target is not None:
            self.check_target(target, "with")
        return n.WithItem(expr, target, span=self.span(t))

    # try_stmt: "try" ":" block finally_block
    @_builds("try_finally")
    def try_finally(self, t: Tree, c: list) -> n.Stmt:
        body, finalbody = c
        return n.Try(body, [], [], finalbody, span=self.span(t))

    # try_stmt: "try" ":" block except_block+ [else_block] [finally_block]
    @_builds("try_stmt")
    def try_stmt(self, t: Tree, c: list) -> n.Stmt:
        body, *handlers, orelse, finalbody = c
        return n.Try(body, handlers, orelse or [], finalbody or [], span=self.span(t))

    # except_block: "except" [expression ["as" NAME]] ":" block
    @_builds("except_block")
    def except_block(self, t: Tree, c: list) -> n.ExceptHandler:
        type_, name, body = c
        return n.ExceptHandler(type_, name and self.ident(name), body,
                               span=self.span(t))

    # ---------------------------------------------------------- parameters

    # params: param_item ("," param_item)* [","]
    # lambda_params: lambda_param ("," lambda_param)* [","]
    @_builds("params", "lambda_params")
    def params(self, t: Tree, c: list[_Param]) -> n.Arguments:
        return n.Arguments(self.order_params(c), span=self.span(t))

    def order_params(self, params: list[_Param]) -> list[n.Arg]:
        """Check the order of a parameter list and give each Arg its kind.

        positional-only `/` normal `*args` (or bare `*`) keyword-only `**kw`,
        with CPython's messages for each way of getting it wrong.
        """
        seen_slash = seen_star = bare_star_open = False
        seen_default = False
        args: list[n.Arg] = []
        for p in params:
            if args and args[-1].kind == "kwarg":
                raise self.error(p.span, "arguments cannot follow var-keyword argument")
            if p.kind == "slash":
                if seen_slash:
                    raise self.error(p.span, "/ may appear only once")
                if seen_star:
                    raise self.error(p.span, "/ must be ahead of *")
                if not args:
                    raise self.error(p.span, "at least one argument must precede /")
                seen_slash = True
                for arg in args:
                    arg.kind = "positional"
                continue
            if p.kind == "star":
                if seen_star:
                    raise self.error(p.span, "* argument may appear only once")
                seen_star = True
                if p.arg is None:
                    bare_star_open = True
                else:
                    p.arg.kind = "vararg"
                    args.append(p.arg)
                continue
            if p.kind == "double_star":
                if bare_star_open:
                    raise self.error(p.span, "named arguments must follow bare *")
                p.arg.kind = "kwarg"
                args.append(p.arg)
                continue
            bare_star_open = False
            if seen_star:
                p.arg.kind = "kwonly"
            elif p.arg.default is not None:
                seen_default = True
            elif seen_default:
                raise self.error(p.span, "non-default argument follows default argument")
            args.append(p.arg)
        if bare_star_open:
            raise self.error(params[-1].span, "named arguments must follow bare *")
        return args

    # param_item: NAME [":" expression] ["=" expression]
    @_builds("param")
    def param(self, t: Tree, c: list) -> _Param:
        name, annotation, default = c
        return _Param("plain", self.arg(name, annotation, default), self.span(t))

    # param_item: "*" [NAME [":" expression]]
    @_builds("star_param")
    def star_param(self, t: Tree, c: list) -> _Param:
        name, annotation = c
        arg = self.arg(name, annotation, None) if name is not None else None
        return _Param("star", arg, self.span(t))

    # param_item: "**" NAME [":" expression]
    @_builds("double_star_param")
    def double_star_param(self, t: Tree, c: list) -> _Param:
        name, annotation = c
        return _Param("double_star", self.arg(name, annotation, None), self.span(t))

    # param_item: "/"       lambda_param: "/"
    @_builds("slash_param")
    def slash_param(self, t: Tree, c: list) -> _Param:
        return _Param("slash", None, self.span(t))

    # lambda_param: NAME ["=" expression]
    @_builds("lambda_plain_param")
    def lambda_plain_param(self, t: Tree, c: list) -> _Param:
        name, default = c
        return _Param("plain", self.arg(name, None, default), self.span(t))

    # lambda_param: "*" [NAME]
    @_builds("lambda_star_param")
    def lambda_star_param(self, t: Tree, c: list) -> _Param:
        name = c[0]
        arg = self.arg(name, None, None) if name is not None else None
        return _Param("star", arg, self.span(t))

    # lambda_param: "**" NAME
    @_builds("lambda_double_star_param")
    def lambda_double_star_param(self, t: Tree, c: list) -> _Param:
        return _Param("double_star", self.arg(c[0], None, None), self.span(t))

    def arg(self, name: Token, annotation: n.Expr | None, default: n.Expr | None) -> n.Arg:
        # Like ast.arg, the span covers the name and its annotation, not the
        # default value (nor the `*` of `*args`).
        span = self.tok_span(name)
        if annotation is not None:
            span = _join(span, annotation.span)
        return n.Arg(self.ident(name), annotation, default, span=span)

    # =========================================================== expressions

    # star_expressions: star_expression ("," star_expression)+ [","] | star_expression ","
    # star_targets, slices: likewise
    @_builds("bare_tuple")
    def bare_tuple(self, t: Tree, c: list) -> n.Expr:
        return n.TupleExpr(c, span=self.span(t))

    # star_expression: "*" bitwise_or      (and the other starred forms)
    @_builds("starred")
    def starred(self, t: Tree, c: list) -> n.Expr:
        return n.Starred(c[0], span=self.span(t))

    # star_named_expressions: star_named_expression ("," star_named_expression)* [","]
    @_builds("star_named_expressions")
    def star_named_expressions(self, t: Tree, c: list) -> list[n.Expr]:
        return c

    # assignment_expression: NAME ":=" expression
    @_builds("assignment_expression")
    def assignment_expression(self, t: Tree, c: list) -> n.Expr:
        name, value = c
        target = n.Name(self.ident(name), span=self.tok_span(name))
        return n.NamedExpr(target, value, span=self.span(t))

    # expression: disjunction "if" disjunction "else" expression
    @_builds("if_exp")
    def if_exp(self, t: Tree, c: list) -> n.Expr:
        body, test, orelse = c
        return n.IfExp(test, body, orelse, span=self.span(t))

    # yield_expr: "yield" [star_expressions]
    @_builds("yield_expr")
    def yield_expr(self, t: Tree, c: list) -> n.Expr:
        return n.Yield(c[0], span=self.span(t))

    # yield_expr: "yield" "from" expression
    @_builds("yield_from")
    def yield_from(self, t: Tree, c: list) -> n.Expr:
        return n.YieldFrom(c[0], span=self.span(t))

    # disjunction: conjunction ("or" conjunction)+
    @_builds("bool_or")
    def bool_or(self, t: Tree, c: list) -> n.Expr:
        return n.BoolOp("or", c, span=self.span(t))

    # conjunction: inversion ("and" inversion)+
    @_builds("bool_and")
    def bool_and(self, t: Tree, c: list) -> n.Expr:
        return n.BoolOp("and", c, span=self.span(t))

    # inversion: "not" inversion
    @_builds("not_op")
    def not_op(self, t: Tree, c: list) -> n.Expr:
        return n.UnaryOp("not", c[0], span=self.span(t))

    # comparison: bitwise_or (comp_op bitwise_or)+
    @_builds("compare")
    def compare(self, t: Tree, c: list) -> n.Expr:
        return n.Compare(c[0], c[1::2], c[2::2], span=self.span(t))

    # comp_op: "==" | "!=" | ... | "not" "in" | "is" "not"
    @_builds("comp_op")
    def comp_op(self, t: Tree, c: list) -> str:
        return " ".join(str(tok) for tok in c)

    # bitwise_or: bitwise_xor ("|" bitwise_xor)+ ... term: factor (("*" | ...) factor)+
    @_builds("binop_chain")
    def binop_chain(self, t: Tree, c: list) -> n.Expr:
        """Fold `a - b + c` to the left; each BinOp spans its own operands."""
        raw = t.children
        left = c[0]
        first = self.outer_span(raw[0])
        for i in range(1, len(c), 2):
            span = _join(first, self.outer_span(raw[i + 1]))
            left = n.BinOp(str(c[i]), left, c[i + 1], span=span)
        return left

    # power: await_primary "**" factor
    @_builds("binop")
    def binop(self, t: Tree, c: list) -> n.Expr:
        left, op, right = c
        return n.BinOp(str(op), left, right, span=self.span(t))

    # factor: ("+" | "-" | "~") factor
    @_builds("unary_op")
    def unary_op(self, t: Tree, c: list) -> n.Expr:
        op, operand = c
        return n.UnaryOp(str(op), operand, span=self.span(t))

    # await_primary: "await" primary
    @_builds("await_expr")
    def await_expr(self, t: Tree, c: list) -> n.Expr:
        return n.Await(c[0], span=self.span(t))

    # primary: primary "." NAME
    @_builds("attribute")
    def attribute(self, t: Tree, c: list) -> n.Expr:
        return n.Attribute(c[0], self.ident(c[1]), span=self.span(t))

    # primary: primary genexp
    @_builds("call_genexp")
    def call_genexp(self, t: Tree, c: list) -> n.Expr:
        return n.Call(c[0], [c[1]], [], span=self.span(t))

    # primary: primary "(" [arguments] ")"
    @_builds("call")
    def call(self, t: Tree, c: list) -> n.Expr:
        func, arguments = c
        args, keywords = arguments or ([], [])
        return n.Call(func, args, keywords, span=self.span(t))

    # primary: primary "[" slices "]"
    @_builds("subscript")
    def subscript(self, t: Tree, c: list) -> n.Expr:
        value, index = c
        if isinstance(index, n.Starred):  # a[*b] is a[(*b,)] (PEP 646)
            index = n.TupleExpr([index], span=index.span)
        return n.Subscript(value, index, span=self.span(t))

    # slice: [expression] ":" [expression] [":" [expression]]
    @_builds("slice_range")
    def slice_range(self, t: Tree, c: list) -> n.Expr:
        lower, upper, step = c
        return n.Slice(lower, upper, step, span=self.span(t))

    # slice: "*" bitwise_or
    @_builds("starred_slice")
    def starred_slice(self, t: Tree, c: list) -> n.Expr:
        return n.Starred(c[0], span=self.span(t))

    # arguments: arg ("," arg)* [","]
    @_builds("arguments")
    def arguments(self, t: Tree, c: list) -> tuple[list[n.Expr], list[n.Keyword]]:
        """Split call arguments into positional and keyword, checking the order."""
        args: list[n.Expr] = []
        keywords: list[n.Keyword] = []
        for a in c:
            if isinstance(a, n.Keyword):
                keywords.append(a)
                continue
            unpacking = any(k.arg is None for k in keywords)
            if isinstance(a, n.Starred):
                if unpacking:
                    raise self.error(a.span, "iterable argument unpacking follows "
                                             "keyword argument unpacking")
            elif unpacking:
                raise self.error(a.span, "positional argument follows keyword argument unpacking")
            elif keywords:
                raise self.error(a.span, "positional argument follows keyword argument")
            args.append(a)
        return args, keywords

    # arg: NAME "=" expression
    @_builds("kwarg")
    def kwarg(self, t: Tree, c: list) -> n.Keyword:
        return n.Keyword(self.ident(c[0]), c[1], span=self.span(t))

    # arg: "**" expression
    @_builds("double_starred_arg")
    def double_starred_arg(self, t: Tree, c: list) -> n.Keyword:
        return n.Keyword(None, c[0], span=self.span(t))

    # lambdef: "lambda" [lambda_params] ":" expression
    @_builds("lambdef")
    def lambdef(self, t: Tree, c: list) -> n.Expr:
        args, body = c
        if args is None:
            span = self.span(t)
            args = n.Arguments([], span=Span(self.file, span.line, span.col + 6,
                                             span.line, span.col + 6))
        return n.Lambda(args, body, span=self.span(t))

    # ----------------------------------------------------------------- atoms

    # atom: NAME
    @_builds("name")
    def name(self, t: Tree, c: list) -> n.Expr:
        return n.Name(self.ident(c[0]), span=self.span(t))

    @_builds("const_true")
    def const_true(self, t: Tree, c: list) -> n.Expr:
        return n.Constant(True, span=self.span(t))

    @_builds("const_false")
    def const_false(self, t: Tree, c: list) -> n.Expr:
        return n.Constant(False, span=self.span(t))

    @_builds("const_none")
    def const_none(self, t: Tree, c: list) -> n.Expr:
        return n.Constant(None, span=self.span(t))

    @_builds("ellipsis")
    def ellipsis(self, t: Tree, c: list) -> n.Expr:
        return n.Constant(Ellipsis, span=self.span(t))

    # atom: NUMBER
    @_builds("number")
    def number(self, t: Tree, c: list) -> n.Expr:
        span = self.span(t)
        try:
            value = _number_value(str(c[0]))
        except ValueError as e:
            raise self.error(span, str(e)) from None
        return n.Constant(value, span=span)

    # group: "(" (yield_expr | named_expression) ")"
    @_builds("group")
    def group(self, t: Tree, c: list) -> n.Expr:
        return c[0]  # the parentheses count for the parent's span, not this one's

    # group: "(" starred_in_parens ")"
    @_builds("starred_group")
    def starred_group(self, t: Tree, c: list) -> n.Expr:
        raise self.error(c[0].span, "cannot use starred expression here")

    # starred_in_parens: "*" bitwise_or
    @_builds("starred_in_parens")
    def starred_in_parens(self, t: Tree, c: list) -> n.Expr:
        return n.Starred(c[0], span=self.span(t))

    # tuple: "(" [star_named_expression "," [star_named_expressions]] ")"
    @_builds("tuple")
    def tuple_(self, t: Tree, c: list) -> n.Expr:
        first, rest = c
        elts = ([first] if first is not None else []) + (rest or [])
        return n.TupleExpr(elts, span=self.span(t))

    # genexp: "(" named_expression for_if_clauses ")"
    @_builds("genexp")
    def genexp(self, t: Tree, c: list) -> n.Expr:
        return n.GeneratorExp(c[0], c[1], span=self.span(t))

    # list: "[" [star_named_expressions] "]"
    @_builds("list")
    def list_(self, t: Tree, c: list) -> n.Expr:
        return n.ListExpr(c[0] or [], span=self.span(t))

    # listcomp: "[" named_expression for_if_clauses "]"
    @_builds("listcomp")
    def listcomp(self, t: Tree, c: list) -> n.Expr:
        return n.ListComp(c[0], c[1], span=self.span(t))

    # set: "{" star_named_expressions "}"
    @_builds("set")
    def set_(self, t: Tree, c: list) -> n.Expr:
        return n.SetExpr(c[0], span=self.span(t))

    # setcomp: "{" named_expression for_if_clauses "}"
    @_builds("setcomp")
    def setcomp(self, t: Tree, c: list) -> n.Expr:
        return n.SetComp(c[0], c[1], span=self.span(t))

    # dict: "{" [double_starred_kvpairs] "}"
    @_builds("dict")
    def dict_(self, t: Tree, c: list) -> n.Expr:
        pairs = c[0] or []
        return n.DictExpr([k for k, _ in pairs], [v for _, v in pairs], span=self.span(t))

    # dictcomp: "{" kvpair for_if_clauses "}"
    @_builds("dictcomp")
    def dictcomp(self, t: Tree, c: list) -> n.Expr:
        (key, value), generators = c
        return n.DictComp(key, value, generators, span=self.span(t))

    # double_starred_kvpairs: double_starred_kvpair ("," double_starred_kvpair)* [","]
    @_builds("double_starred_kvpairs")
    def double_starred_kvpairs(self, t: Tree, c: list) -> list[tuple]:
        return c

    # double_starred_kvpair: "**" bitwise_or
    @_builds("dict_unpack")
    def dict_unpack(self, t: Tree, c: list) -> tuple:
        return (None, c[0])

    # kvpair: expression ":" expression
    @_builds("kvpair")
    def kvpair(self, t: Tree, c: list) -> tuple:
        return (c[0], c[1])

    # for_if_clauses: for_if_clause+
    @_builds("for_if_clauses")
    def for_if_clauses(self, t: Tree, c: list) -> list[n.Comprehension]:
        return c

    # for_if_clause: ["async"] "for" star_targets "in" disjunction ("if" disjunction)*
    @_builds("for_if_clause", "async_for_if_clause")
    def for_if_clause(self, t: Tree, c: list) -> n.Comprehension:
        target, iterable, *ifs = c
        self.check_target(target, "for")
        return n.Comprehension(target, iterable, ifs, is_async=t.data == "async_for_if_clause",
                               span=self.span(t))

    # ------------------------------------------------------------- targets

    def check_target(self, target: n.Expr, context: str) -> None:
        """Reject what cannot be assigned to (or deleted), as CPython does."""
        if isinstance(target, (n.Name, n.Attribute, n.Subscript)):
            return
        if isinstance(target, (n.TupleExpr, n.ListExpr)):
            for elt in target.elts:
                self.check_target(elt, context)
            return
        if isinstance(target, n.Starred) and context != "del":
            self.check_target(target.value, context)
            return
        what = _describe(target)
        if context == "del":
            raise self.error(target.span, f"cannot delete {what}")
        hint = "maybe you meant '==' instead of '='?" if context == "assign" else None
        raise self.error(target.span, f"cannot assign to {what}", hint)

    # ============================================================== strings

    # strings: STRING+
    @_builds("strings")
    def strings(self, t: Tree, c: list[Token]) -> n.Expr:
        """Adjacent literals are one: a Constant, or a JoinedStr if any is an f-string."""
        is_bytes = None
        pieces: list[_Lit | n.FormattedValue] = []
        has_fstring = False
        for tok in c:
            prefix, body_start, body_end = _split_string(tok)
            this_bytes = "b" in prefix
            if is_bytes is None:
                is_bytes = this_bytes
            elif is_bytes != this_bytes:
                raise self.error(self.tok_span(tok), "cannot mix bytes and nonbytes literals")
            if "f" in prefix:
                has_fstring = True
                pieces.extend(self.fstring(tok, body_start, body_end, "r" in prefix, 0)[0])
            else:
                value = self.decode(tok, body_start, body_end, "r" in prefix, this_bytes)
                pieces.append(_Lit(value, self.tok_span(tok)))
        span = self.span(t)
        if has_fstring:
            return n.JoinedStr(self.merge_literals(pieces), span=span)
        text = "".join(p.value for p in pieces)
        return n.Constant(text.encode("latin-1") if is_bytes else text, span=span)

    def decode(self, tok: Token, start: int, end: int, raw: bool, is_bytes: bool) -> str:
        """The value of a literal's text; for bytes, a str of code points < 256."""
        body = tok.value[start:end]
        if is_bytes and not body.isascii():
            raise self.error(self.tok_span(tok), "bytes can only contain ASCII literal characters")
        if raw:
            return body
        try:
            return _decode_escapes(body, is_bytes)
        except _EscapeError as e:
            raise self.error(self.offset_span(tok, start + e.offset, start + e.offset + 1),
                             e.message) from None

    def offset_span(self, tok: Token, start: int, end: int) -> Span:
        """The span of tok.value[start:end] (offsets in the token's text)."""
        return self.source.span(*_offset_pos(tok, start), *_offset_pos(tok, end))

    def merge_literals(self, pieces: list) -> list[n.Expr]:
        """Join adjacent literal text into one Constant and drop empty ones (like ast)."""
        values: list[n.Expr] = []
        run: list[_Lit] = []

        def flush() -> None:
            text = "".join(p.value for p in run)
            if text:
                values.append(n.Constant(text, span=_join(run[0].span, run[-1].span)))
            run.clear()

        for p in pieces:
            if isinstance(p, _Lit):
                run.append(p)
            else:
                flush()
                values.append(p)
        flush()
        return values

    def fstring(self, tok: Token, i: int, end: int, raw: bool, depth: int) -> tuple[list, int]:
        """Scan f-string text from i: literal text and {fields}, as CPython 3.11.

        At depth 0 this is the whole string body; at depth 1 and 2 it is a
        format spec, which ends at its unmatched `}` (returned index). Doubled
        braces are literal braces only at depth 0, exactly like CPython.
        """
        s = tok.value
        pieces: list = []
        text: list[str] = []
        text_start = i
        while i < end:
            m = _FSTRING_SPECIAL.search(s, i, end)
            stop = m.start() if m else end
            text.append(s[i:stop])
            i = stop
            if i >= end:
                break
            ch = s[i]
            if ch == "\\":
                if raw:
                    text.append(ch)
                    i += 1
                else:
                    j = _skip_escape(s, i, end)
                    text.append(s[i:j])
                    i = j
                continue
            if depth == 0 and i + 1 < end and s[i + 1] == ch:
                text.append(ch)
                i += 2
                continue
            if ch == "}":
                if depth == 0:
                    raise self.error(self.offset_span(tok, i, i + 1),
                                     "f-string: single '}' is not allowed")
                break
            pieces.extend(self.fstring_literal(tok, text, text_start, i, raw))
            field, i = self.fstring_field(tok, i, end, raw, depth)
            pieces.extend(field)
            text, text_start = [], i
        pieces.extend(self.fstring_literal(tok, text, text_start, i, raw))
        return pieces, i

    def fstring_literal(self, tok: Token, text: list[str], start: int, end: int,
                        raw: bool) -> list[_Lit]:
        joined = "".join(text)
        if not joined:
            return []
        if not raw:
            try:
                joined = _decode_escapes(joined, False)
            except _EscapeError as e:
                raise self.error(self.offset_span(tok, start, start + 1), e.message) from None
        return [_Lit(joined, self.offset_span(tok, start, end))]

    def fstring_field(self, tok: Token, i: int, end: int, raw: bool, depth: int) -> tuple[list, int]:
        """One `{expression[=][!conversion][:format_spec]}` starting at s[i] == '{'."""
        s = tok.value
        field_start = i
        if depth >= 2:
            raise self.error(self.offset_span(tok, i, i + 1),
                             "f-string: expressions nested too deeply")
        expr_start = i + 1
        i = self.fstring_expr_end(tok, expr_start, end)
        expr_text = s[expr_start:i]
        if not expr_text.strip():
            raise self.error(self.offset_span(tok, field_start, i + 1),
                             "f-string: empty expression not allowed")
        value = self.fstring_expression(tok, expr_start, expr_text)
        pieces: list = []
        if s[i] == "=":  # the `{x=}` debugging form: the text, then the value
            i += 1
            while i < end and s[i] in " \t\n\r\f\v":
                i += 1
            pieces.append(_Lit(s[expr_start:i], self.offset_span(tok, expr_start, i)))
        conversion = None
        if i < end and s[i] == "!":
            if i + 1 >= end:
                raise self.error(self.offset_span(tok, i, i + 1), "f-string: expecting '}'")
            conversion = s[i + 1]
            if conversion not in "sra":
                raise self.error(self.offset_span(tok, i + 1, i + 2),
                                 "f-string: invalid conversion character: "
                                 "expected 's', 'r', or 'a'")
            i += 2
        spec = None
        if i < end and s[i] == ":":
            spec_parts, spec_end = self.fstring(tok, i + 1, end, raw, depth + 1)
            spec = n.JoinedStr(self.merge_literals(spec_parts),
                               span=self.offset_span(tok, i + 1, spec_end))
            i = spec_end
        if i >= end or s[i] != "}":
            where = min(i, end - 1)
            raise self.error(self.offset_span(tok, where, where + 1), "f-string: expecting '}'")
        i += 1
        if pieces and conversion is None and spec is None:
            conversion = "r"  # `{x=}` shows repr(x) unless told otherwise
        pieces.append(n.FormattedValue(value, conversion, spec,
                                       span=self.offset_span(tok, field_start, i)))
        return pieces, i

    def fstring_expr_end(self, tok: Token, i: int, end: int) -> int:
        """Where a field's expression ends: at `!`, `:`, `=` or `}` outside brackets
        and strings, but not in `!=`, `==`, `<=`, `>=` (CPython 3.11's rule)."""
        s = tok.value
        brackets: list[tuple[str, int]] = []
        quote = ""
        while i < end:
            ch = s[i]
            if ch == "\\":
                raise self.error(self.offset_span(tok, i, i + 1),
                                 "f-string expression part cannot include a backslash")
            if quote:
                if s.startswith(quote, i):
                    i += len(quote)
                    quote = ""
                else:
                    i += 1
                continue
            if ch in "'\"":
                quote = ch * 3 if s.startswith(ch * 3, i) else ch
                i += len(quote)
                continue
            if ch in "([{":
                brackets.append((ch, i))
            elif ch == "#":
                raise self.error(self.offset_span(tok, i, i + 1),
                                 "f-string expression part cannot include '#'")
            elif not brackets and ch in "!:}=<>":
                if ch in "!=<>" and i + 1 < end and s[i + 1] == "=":
                    i += 2
                    continue
                if ch not in "<>":
                    return i
            elif ch in ")]}":
                if not brackets:
                    raise self.error(self.offset_span(tok, i, i + 1), f"f-string: unmatched '{ch}'")
                opener, _ = brackets.pop()
                if _MATCHING[opener] != ch:
                    raise self.error(self.offset_span(tok, i, i + 1),
                                     f"f-string: closing parenthesis '{ch}' does not match "
                                     f"opening parenthesis '{opener}'")
            i += 1
        if quote:
            raise self.error(self.offset_span(tok, end - 1, end), "f-string: unterminated string")
        if brackets:
            opener, at = brackets[-1]
            raise self.error(self.offset_span(tok, at, at + 1), f"f-string: unmatched '{opener}'")
        raise self.error(self.offset_span(tok, end - 1, end), "f-string: expecting '}'")

    def fstring_expression(self, tok: Token, start: int, text: str) -> n.Expr:
        """Parse a field's expression like CPython 3.11: as "(" + text + ")"."""
        line, col = _offset_pos(tok, start)
        sub = _Source(self.file, "(" + text + ")", parent=self.source, origin=(line, col - 1))
        return _Builder(sub).build(_parse(sub, "fstring_expr"))


# ============================================================ small helpers


def _flatten(items: list) -> list:
    """Statements from a mix of statements and lists of them (simple_stmts)."""
    out = []
    for item in items:
        if isinstance(item, list):
            out.extend(item)
        else:
            out.append(item)
    return out


_DESCRIPTIONS = {
    n.Call: "function call", n.BinOp: "expression", n.UnaryOp: "expression",
    n.BoolOp: "expression", n.Compare: "comparison", n.Lambda: "lambda",
    n.IfExp: "conditional expression", n.NamedExpr: "named expression",
    n.Await: "await expression", n.Yield: "yield expression",
    n.YieldFrom: "yield expression", n.ListComp: "list comprehension",
    n.SetComp: "set comprehension", n.DictComp: "dict comprehension",
    n.GeneratorExp: "generator expression", n.DictExpr: "dict literal",
    n.SetExpr: "set display", n.JoinedStr: "f-string expression",
    n.FormattedValue: "f-string expression", n.Starred: "starred",
    n.Slice: "slice", n.TupleExpr: "tuple", n.ListExpr: "list",
}


def _describe(expr: n.Expr) -> str:
    """CPython's name for an expression in "cannot assign to ..." messages."""
    if isinstance(expr, n.Constant):
        if expr.value is True or expr.value is False or expr.value is None:
            return str(expr.value)
        return "ellipsis" if expr.value is Ellipsis else "literal"
    return _DESCRIPTIONS.get(type(expr), "expression")


def _number_value(text: str) -> int | float | complex:
    """The value of a NUMBER token (the lexer has already checked its shape)."""
    digits = text.replace("_", "")
    if digits[-1] in "jJ":
        return complex(0.0, float(digits[:-1]))
    if digits[:2].lower() in ("0x", "0o", "0b"):
        return int(digits, 0)
    if any(ch in digits for ch in ".eE"):
        return float(digits)
    if len(digits) > 1 and digits[0] == "0" and digits.strip("0"):
        raise ValueError("leading zeros in decimal integer literals are not permitted; "
                         "use an 0o prefix for octal integers")
    return int(digits)  # ValueError beyond sys.get_int_max_str_digits(), as CPython


def _split_string(tok: Token) -> tuple[str, int, int]:
    """A STRING token's lowercased prefix and where its body starts and ends."""
    text = tok.value
    i = 0
    while text[i] not in "'\"":
        i += 1
    quote_len = 3 if text.startswith(text[i] * 3, i) and len(text) - i >= 6 else 1
    return text[:i].lower(), i + quote_len, len(text) - quote_len


def _offset_pos(tok: Token, offset: int) -> tuple[int, int]:
    """The (line, column) of tok.value[offset] in the text the token came from."""
    text = tok.value
    newline = text.rfind("\n", 0, offset)
    if newline < 0:
        return tok.line, tok.column + offset
    return tok.line + text.count("\n", 0, offset), offset - newline


_FSTRING_SPECIAL = re.compile(r"[\\{}]")
_MATCHING = {"(": ")", "[": "]", "{": "}"}


def _skip_escape(s: str, i: int, end: int) -> int:
    """The end of the escape at s[i] == '\\' inside f-string literal text.

    `\\N{...}` is skipped whole, so that its braces are not a field; a backslash
    before a brace is kept alone and the brace is a brace (CPython 3.11).
    """
    if i + 1 >= end:
        return end
    nxt = s[i + 1]
    if nxt == "N" and i + 2 < end and s[i + 2] == "{":
        close = s.find("}", i + 3, end)
        return end if close < 0 else close + 1
    if nxt in "{}":
        return i + 1
    return i + 2


class _EscapeError(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


_SIMPLE_ESCAPES = {
    "\n": "", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f",
    "n": "\n", "r": "\r", "t": "\t", "v": "\v",
}
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")


def _decode_escapes(body: str, is_bytes: bool) -> str:
    """Decode backslash escapes exactly like CPython's string and bytes literals.

    Unknown escapes (`\\q`) stay as they are, backslash included. In bytes,
    `\\u`, `\\U` and `\\N` are not escapes and octal escapes wrap at 256; the
    result is then a str of code points below 256 for the caller to encode.
    """
    if "\\" not in body:
        return body
    out: list[str] = []
    i, size = 0, len(body)
    while True:
        j = body.find("\\", i)
        if j < 0:
            out.append(body[i:])
            return "".join(out)
        out.append(body[i:j])
        if j + 1 >= size:  # a lone backslash ends f-string text before a '{'
            out.append("\\")
            return "".join(out)
        ch = body[j + 1]
        i = j + 2
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ch in _OCTAL:
            k = j + 1
            while k < size and k < j + 4 and body[k] in _OCTAL:
                k += 1
            code = int(body[j + 1:k], 8)
            out.append(chr(code & 0xFF if is_bytes else code))
            i = k
        elif ch == "x":
            out.append(chr(_hex_escape(body, j, 2, is_bytes)))
            i = j + 4
        elif ch in "uU" and not is_bytes:
            width = 4 if ch == "u" else 8
            code = _hex_escape(body, j, width, is_bytes)
            if code > 0x10FFFF:
                raise _EscapeError(j, "(unicode error) illegal Unicode character")
            out.append(chr(code))
            i = j + 2 + width
        elif ch == "N" and not is_bytes:
            char, i = _named_escape(body, j)
            out.append(char)
        else:
            out.append("\\" + ch)


def _hex_escape(body: str, j: int, width: int, is_bytes: bool) -> int:
    digits = body[j + 2:j + 2 + width]
    if len(digits) < width or not all(d in _HEX for d in digits):
        if is_bytes:
            raise _EscapeError(j, "(value error) invalid \\x escape")
        form = {2: "\\xXX", 4: "\\uXXXX", 8: "\\UXXXXXXXX"}[width]
        raise _EscapeError(j, f"(unicode error) truncated {form} escape")
    return int(digits, 16)


def _named_escape(body: str, j: int) -> tuple[str, int]:
    """`\\N{name}` at body[j]: the character and the index after the escape."""
    close = body.find("}", j + 3)
    if not body.startswith("{", j + 2) or close < 0 or close == j + 3:
        raise _EscapeError(j, "(unicode error) malformed \\N character escape")
    try:
        char = unicodedata.lookup(body[j + 3:close])
    except KeyError:
        char = ""
    if len(char) != 1:  # named sequences are not characters
        raise _EscapeError(j, "(unicode error) unknown Unicode character name")
    return char, close + 1
