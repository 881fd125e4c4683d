"""Generate runtime/unidata.apy: the Unicode character database of the apy runtime.

In:  the running CPython's own str methods (run it with the CPython whose
     behaviour apy matches: 3.11, Unicode 14.0.0).
Out: runtime/unidata.apy (or the text of it, from `generate()`), an apy module with
     one lookup function per property the runtime needs:

        uc_alpha(cp) uc_decimal(cp) uc_digit(cp) uc_numeric(cp) uc_space(cp)
        uc_lower(cp) uc_upper(cp) uc_title(cp) uc_printable(cp) uc_cased(cp)
        uc_case_ignorable(cp) uc_id_start(cp) uc_id_continue(cp) -> bool
        uc_decimal_value(cp) -> int        0..9 for a decimal digit
        uc_case_len(cp, which) -> int      length of a full case mapping
        uc_case_cp(cp, which, k) -> int    its k-th code point
                                           (which: CASE_UPPER, CASE_LOWER,
                                            CASE_TITLE, CASE_FOLD)

    python3 tools/gen_unidata.py            # rewrite runtime/unidata.apy
    python3 tools/gen_unidata.py --check    # exit 1 if the file is stale

Every property is read off CPython's behaviour, not re-derived from the UCD
files, so the tables say what CPython does: `c.isalpha()`, `c.upper()`, ...
Two properties have no direct method and are observed through the one
operation that uses them, lower() of a capital sigma (CPython's
handle_capital_sigma): Cased (also visible in title()) and Case_Ignorable.

Layout. Each code point maps to a record number through a three-level trie
(cp >> (S1+S2) -> top; then mid blocks of 2**S1 entries; then leaf blocks of
2**S2 entries), with identical blocks shared. A record holds the flags, the
decimal value and four case fields: deltas (mapping = cp + delta) when every
mapping is one code point and casefold equals lower, else (EXTENDED) offsets
into a table of code point sequences. All tables are str literals of 6-bit
digits ('#' + value, so '\\' is the only escape), read with load8; numbers of
several digits are little-endian.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "runtime" / "unidata.apy"
NCP = 0x110000
BASE = 35  # the digit v is written chr(BASE + v): '#' .. 'b'
BITS = 6

FLAGS = [
    "ALPHA", "DECIMAL", "DIGIT", "NUMERIC", "SPACE", "LOWER", "UPPER", "TITLE",
    "PRINTABLE", "CASED", "CASE_IGNORABLE", "ID_START", "ID_CONTINUE", "EXTENDED",
]
FLAG_BIT = {name: 1 << i for i, name in enumerate(FLAGS)}
CASES = ["UPPER", "LOWER", "TITLE", "FOLD"]

FLAG_CHARS = 3  # 18 bits of flags
FIELD_CHARS = 3  # a case field: signed delta or extended offset, 18 bits
REC_CHARS = FLAG_CHARS + 1 + FIELD_CHARS * len(CASES)
EXT_CP_CHARS = 4  # a code point in the extended table (24 bits)
S1, S2 = 6, 3  # trie shifts: mid blocks of 2**S1 leaf blocks of 2**S2 code points


# =========================================================================== properties


def is_cased(c: str) -> bool:
    """CPython's _PyUnicode_IsCased, as title() sees it: a cased letter makes the next lowercase."""
    return (c + "a").title()[-1] == "a"


def is_case_ignorable(c: str) -> bool:
    """CPython's _PyUnicode_IsCaseIgnorable, as lower() of a capital sigma sees it.

    Sigma is final when a cased letter precedes it (skipping case-ignorables) and
    none follows. For an uncased c, 'A' c 'Σ' gives a final sigma iff c is skipped;
    for a cased c, 'AΣ' c gives one iff c is skipped (else c is a following cased letter).
    """
    if is_cased(c):
        return ("AΣ" + c).lower()[1] == "ς"
    return ("A" + c + "Σ").lower()[-1] == "ς"


def flags_of(c: str) -> int:
    props = {
        "ALPHA": c.isalpha(), "DECIMAL": c.isdecimal(), "DIGIT": c.isdigit(),
        "NUMERIC": c.isnumeric(), "SPACE": c.isspace(), "LOWER": c.islower(),
        "UPPER": c.isupper(), "TITLE": c.istitle() and not c.isupper(),
        "PRINTABLE": c.isprintable(), "CASED": is_cased(c),
        "CASE_IGNORABLE": is_case_ignorable(c), "ID_START": c.isidentifier(),
        "ID_CONTINUE": ("a" + c).isidentifier(),
    }
    # str.isalnum() is defined per character as the union of these four
    assert c.isalnum() == (c.isalpha() or c.isdecimal() or c.isdigit() or c.isnumeric()), hex(ord(c))
    return sum(FLAG_BIT[k] for k, v in props.items() if v)


def case_maps(c: str) -> list[str]:
    """Full upper, lower, title and casefold mappings of c alone (a lone 'Σ' lowers to 'σ')."""
    return [c.upper(), c.lower(), c.title(), c.casefold()]


# =========================================================================== tables


class Tables:
    """Records, the per-code-point record numbers, and the extended case table."""

    def __init__(self) -> None:
        self.records: dict[tuple, int] = {}
        self.ext: list[int] = []  # 6-bit digits
        self.ext_at: dict[tuple[int, ...], int] = {}
        self.index = [self.record_of(chr(cp)) for cp in range(NCP)]

    def ext_offset(self, seq: tuple[int, ...]) -> int:
        at = self.ext_at.get(seq)
        if at is None:
            at = self.ext_at[seq] = len(self.ext)
            self.ext.append(len(seq))
            for cp in seq:
                self.ext.extend(digits(cp, EXT_CP_CHARS))
        return at

    def record_of(self, c: str) -> int:
        cp = ord(c)
        flags = flags_of(c)
        decimal = int(c) if c.isdecimal() else 0
        maps = case_maps(c)
        if all(len(m) == 1 for m in maps) and maps[3] == maps[1]:
            fields = tuple(ord(m) - cp for m in maps)
        else:
            flags |= FLAG_BIT["EXTENDED"]
            fields = tuple(self.ext_offset(tuple(map(ord, m))) for m in maps)
        key = (flags, decimal) + fields
        return self.records.setdefault(key, len(self.records))

    def record_digits(self) -> list[int]:
        out: list[int] = []
        for flags, decimal, *fields in self.records:
            out += digits(flags, FLAG_CHARS) + [decimal]
            for f in fields:
                out += signed_digits(f, FIELD_CHARS)
        return out


def digits(v: int, n: int) -> list[int]:
    """v as n little-endian 6-bit digits."""
    assert 0 <= v < 1 << (BITS * n), (v, n)
    return [(v >> (BITS * i)) & 63 for i in range(n)]


def signed_digits(v: int, n: int) -> list[int]:
    half = 1 << (BITS * n - 1)
    assert -half <= v < half, (v, n)
    return digits(v & ((1 << (BITS * n)) - 1), n)


def width(count: int) -> int:
    """6-bit digits needed for numbers below count."""
    n = 1
    while count > 1 << (BITS * n):
        n += 1
    return n


def share_blocks(seq: list[int], shift: int) -> tuple[list[int], list[int]]:
    """Cut seq into blocks of 2**shift; returns (block number per block, the distinct blocks concatenated)."""
    size = 1 << shift
    seen: dict[tuple[int, ...], int] = {}
    numbers: list[int] = []
    data: list[int] = []
    for i in range(0, len(seq), size):
        block = tuple(seq[i : i + size])
        if block not in seen:
            seen[block] = len(seen)
            data.extend(block)
        numbers.append(seen[block])
    return numbers, data


# =========================================================================== apy text


def literal_lines(values: list[int], indent: str, per_line: int = 96) -> str:
    """Adjacent str literals (one per line) spelling the digits `values`."""
    lines = []
    for i in range(0, len(values), per_line):
        text = "".join(chr(BASE + v) for v in values[i : i + per_line]).replace("\\", "\\\\")
        lines.append(f'{indent}"{text}"')
    return "\n".join(lines) if lines else f'{indent}""'


def table_function(name: str, doc: str, values: list[int]) -> str:
    return (
        f"def {name}() -> int:\n"
        f'    """{doc}"""\n'
        f"    return str_addr(\n{literal_lines(values, '        ')}\n    ) + STR_DATA\n"
    )


def spread(values: list[int], n: int) -> list[int]:
    return [d for v in values for d in digits(v, n)]


def generate() -> str:
    """The text of runtime/unidata.apy for the running CPython."""
    tables = Tables()
    mid_numbers, leaf_data = share_blocks(tables.index, S2)
    top_numbers, mid_data = share_blocks(mid_numbers, S1)
    w_top = width(max(top_numbers) + 1)
    w_mid = width(max(mid_data) + 1)
    w_leaf = width(len(tables.records))
    consts = "\n".join(f"F_{name}: int = {bit}" for name, bit in FLAG_BIT.items())
    cases = "\n".join(f"CASE_{name}: int = {i}" for i, name in enumerate(CASES))
    predicates = "\n\n".join(
        f"def uc_{name.lower()}(cp: int) -> bool:\n"
        f'    """{_PRED_DOCS[name]}"""\n'
        f"    return (_flags(cp) & F_{name}) != 0\n"
        for name in FLAGS if name != "EXTENDED"
    )
    return _TEMPLATE.format(
        py=".".join(map(str, sys.version_info[:3])),
        ucd=unicodedata.unidata_version,
        nrec=len(tables.records),
        consts=consts,
        cases=cases,
        S1=S1, S2=S2, w_top=w_top, w_mid=w_mid, w_leaf=w_leaf,
        REC=REC_CHARS, FLAG_CHARS=FLAG_CHARS, FIELD_CHARS=FIELD_CHARS, EXT_CP=EXT_CP_CHARS,
        predicates=predicates,
        tables="\n\n".join([
            table_function("_top", f"Mid block number of each 2**{S1 + S2} code points ({w_top} digits each).",
                           spread(top_numbers, w_top)),
            table_function("_mid", f"Leaf block numbers, 2**{S1} per mid block ({w_mid} digits each).",
                           spread(mid_data, w_mid)),
            table_function("_leaf", f"Record numbers, 2**{S2} per leaf block ({w_leaf} digits each).",
                           spread(leaf_data, w_leaf)),
            table_function("_records", f"{len(tables.records)} records of {REC_CHARS} digits.",
                           tables.record_digits()),
            table_function("_ext", "Case mappings that are not one code point: length, then code points.",
                           tables.ext),
        ]),
    )


_PRED_DOCS = {
    "ALPHA": "chr(cp).isalpha()",
    "DECIMAL": "chr(cp).isdecimal()",
    "DIGIT": "chr(cp).isdigit()",
    "NUMERIC": "chr(cp).isnumeric()",
    "SPACE": "chr(cp).isspace() (also what split(), strip() and int() skip)",
    "LOWER": "chr(cp).islower(): the Lowercase property",
    "UPPER": "chr(cp).isupper(): the Uppercase property",
    "TITLE": "Titlecase letter (Lt): chr(cp).istitle() and not chr(cp).isupper()",
    "PRINTABLE": "chr(cp).isprintable(): repr() shows it as itself",
    "CASED": "Cased (Lowercase, Uppercase or Lt): makes the next letter lowercase in title()",
    "CASE_IGNORABLE": "Case_Ignorable: skipped when lower() decides whether a capital sigma is final",
    "ID_START": "chr(cp).isidentifier(): may start an identifier (XID_Start or '_')",
    "ID_CONTINUE": "('a' + chr(cp)).isidentifier(): may continue an identifier (XID_Continue)",
}

_TEMPLATE = '''"""The Unicode character database of the apy runtime. GENERATED: do not edit.

Made by tools/gen_unidata.py from CPython {py} (Unicode {ucd}); a test checks
that the generator still gives this text, and that every lookup here agrees
with CPython's str methods.
In:  a code point (0 <= cp < 0x110000).
Out: its properties (uc_alpha ... uc_id_continue), its decimal value, and its
     full case mappings (uc_case_len / uc_case_cp with CASE_UPPER, CASE_LOWER,
     CASE_TITLE or CASE_FOLD) -- what CPython's str methods use.
The tables are str literals of 6-bit digits (chr(35 + v)); see the generator's
docstring for the layout. Users: runtime/strings.apy.
"""

from _machine import load8, str_addr

STR_DATA: int = 24
BASE: int = 35
S1: int = {S1}
S2: int = {S2}
W_TOP: int = {w_top}
W_MID: int = {w_mid}
W_LEAF: int = {w_leaf}
REC: int = {REC}
FLAG_CHARS: int = {FLAG_CHARS}
FIELD_CHARS: int = {FIELD_CHARS}
EXT_CP: int = {EXT_CP}
{consts}
{cases}


def _num(a: int, n: int) -> int:
    """The n-digit little-endian number at a."""
    v = 0
    i = n - 1
    while i >= 0:
        v = (v << 6) | (load8(a + i) - BASE)
        i -= 1
    return v


def _signed(a: int, n: int) -> int:
    v = _num(a, n)
    half = 1 << (6 * n - 1)
    return v - 2 * half if v >= half else v


def _record(cp: int) -> int:
    """Address of the record of cp."""
    mid = _num(_top() + W_TOP * (cp >> (S1 + S2)), W_TOP)
    leaf = _num(_mid() + W_MID * ((mid << S1) + ((cp >> S2) & ((1 << S1) - 1))), W_MID)
    r = _num(_leaf() + W_LEAF * ((leaf << S2) + (cp & ((1 << S2) - 1))), W_LEAF)
    return _records() + REC * r


def _flags(cp: int) -> int:
    return _num(_record(cp), FLAG_CHARS)


{predicates}

def uc_decimal_value(cp: int) -> int:
    """int(chr(cp)) for a decimal digit (uc_decimal(cp)); 0 otherwise."""
    return load8(_record(cp) + FLAG_CHARS) - BASE


def uc_case_len(cp: int, which: int) -> int:
    """len() of chr(cp).upper() / .lower() / .title() / .casefold() (which = CASE_*)."""
    r = _record(cp)
    if (_num(r, FLAG_CHARS) & F_EXTENDED) == 0:
        return 1
    return load8(_ext() + _num(r + FLAG_CHARS + 1 + FIELD_CHARS * which, FIELD_CHARS)) - BASE


def uc_case_cp(cp: int, which: int, k: int) -> int:
    """ord() of character k of the mapping uc_case_len describes."""
    r = _record(cp)
    field = r + FLAG_CHARS + 1 + FIELD_CHARS * which
    if (_num(r, FLAG_CHARS) & F_EXTENDED) == 0:
        return cp + _signed(field, FIELD_CHARS)
    return _num(_ext() + _num(field, FIELD_CHARS) + 1 + EXT_CP * k, EXT_CP)


# --------------------------------------------------------------------------- tables


{tables}'''


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if runtime/unidata.apy is stale")
    args = ap.parse_args()
    text = generate()
    if args.check:
        stale = not OUT.exists() or OUT.read_text(encoding="utf-8") != text
        print(f"{OUT}: {'stale' if stale else 'up to date'}")
        return 1 if stale else 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
