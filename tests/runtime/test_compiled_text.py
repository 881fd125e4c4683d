"""The str and format runtime, compiled: programs full of f-string formats, str
indexing, slicing and iteration, built for the hosted target and run, print
exactly what CPython prints.

The CPython-side tests check the runtime's logic; this checks that the compiled
code (64-bit ints, calls between runtime modules, static data, the Unicode
tables as str literals) behaves the same. The cases are drawn at random (a
fixed seed) and kept only if CPython formats them without an error.
"""

from __future__ import annotations

import random
import struct
import subprocess
import sys

MODULES = "unidata,strings,fmt,bytesops"
N_CASES = 1500

FILLS = ["", "*", "0", "é", " "]
ALIGNS = ["", "<", ">", "=", "^"]


def random_spec(rng: random.Random, types: str) -> str:
    fill_align = ""
    align = rng.choice(ALIGNS)
    if align:
        fill_align = rng.choice(FILLS) + align
    return (fill_align + rng.choice(["", "+", "-", " "]) + rng.choice(["", "", "z"])
            + rng.choice(["", "#"]) + rng.choice(["", "0"]) + rng.choice(["", str(rng.randint(0, 22))])
            + rng.choice(["", ",", "_"]) + rng.choice(["", f".{rng.randint(0, 17)}"]) + rng.choice(types))


def random_float(rng: random.Random) -> float:
    while True:
        kind = rng.randrange(4)
        if kind == 0:
            x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        elif kind == 1:
            x = rng.uniform(-1e6, 1e6)
        elif kind == 2:
            x = float(f"{rng.randint(0, 10**6)}5e-{rng.randint(0, 8)}")
        else:
            x = rng.choice([0.0, -0.0, 0.1, 1e16, 1e-5, 2.5, 123.456, 1e300, 5e-324])
        if x == x and x not in (float("inf"), float("-inf")):
            return x


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice("ab Σσéß😀\t'\"") for _ in range(rng.randint(0, 8)))


def format_lines(rng: random.Random) -> list[str]:
    """print() statements of f-strings that CPython can format."""
    lines = []
    while len(lines) < N_CASES:
        which = rng.randrange(3)
        if which == 0:
            v = rng.choice([rng.randint(-2**63, 2**63 - 1), rng.randint(-10**6, 10**6), 0, 255])
            spec, lit = random_spec(rng, ["", "d", "b", "o", "x", "X", "n", "e", "f", "g", "%", "c"]), repr(v)
            value = v
        elif which == 1:
            x = random_float(rng)
            spec, lit = random_spec(rng, ["", "e", "E", "f", "F", "g", "G", "n", "%"]), repr(x)
            value = x
        else:
            t = random_text(rng)
            spec, lit = random_spec(rng, ["", "s"]), repr(t)
            value = t
        try:
            format(value, spec)
        except (ValueError, OverflowError):
            continue
        var = {int: "vi", float: "vf", str: "vs"}[type(value)]  # one type per local, as apy wants
        lines.append(f"    {var} = {lit}\n    print(f'{{{var}:{spec}}}')")
    return lines


def str_lines(rng: random.Random) -> list[str]:
    lines = []
    for _ in range(300):
        t = random_text(rng)
        i = rng.randint(-9, 9)
        a, b, c = (rng.choice([None, rng.randint(-9, 9)]) for _ in range(3))
        c = c if c != 0 else None
        if -len(t) <= i < len(t):
            lines.append(f"    print({t!r}[{i}])")
        sl = ":".join("" if v is None else str(v) for v in (a, b, c))
        lines.append(f"    print({t!r}[{sl}])")
        lines.append(f"    for ch in {t!r}:\n        print(ch, end='|')\n    print()")
    return lines


def test_compiled_program_prints_what_cpython_prints(tmp_path, monkeypatch):
    monkeypatch.setenv("APPLC_EXTRA_RUNTIME", MODULES)  # until the compiler links them itself
    rng = random.Random(20261125)
    body = format_lines(rng) + str_lines(rng)
    src = tmp_path / "text_cases.apy"
    src.write_text("def main() -> None:\n" + "\n".join(body) + "\n\n\nmain()\n", encoding="utf-8")
    want = subprocess.run([sys.executable, str(src)], capture_output=True, timeout=60)
    assert want.returncode == 0, want.stderr.decode()

    from applc.driver.build import build_file

    exe = tmp_path / "text_cases.exe"
    build_file(str(src), target="hosted", out=str(exe), use_cache=False)
    got = subprocess.run([str(exe)], capture_output=True, timeout=60)
    assert got.returncode == 0, got.stderr.decode()
    want_lines = want.stdout.decode().splitlines()
    got_lines = got.stdout.decode(errors="replace").splitlines()
    mismatches = [(k, w, g) for k, (w, g) in enumerate(zip(want_lines, got_lines)) if w != g]
    assert not mismatches[:10]
    assert got.stdout == want.stdout
