"""Programs of several files: imported functions, constants and classes (subclassed
across modules, used in field annotations), and the stdlib's `netif.NetIf`.

In:  small programs written into a temporary folder.
Out: the compiled program (hosted) prints what `applc pyrun` (CPython with the
     .apy import hook) prints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHAPES = '''
LIMIT: int = 3

class Shape:
    name: str
    def __init__(self, name: str) -> None:
        self.name = name
    def area(self) -> float:
        return 0.0
    def describe(self) -> str:
        return f"{self.name}: {self.area():.2f}"

def total(shapes: list[Shape]) -> float:
    return sum([s.area() for s in shapes], 0.0)
'''

MAIN = '''
import shapes
from shapes import Shape, total, LIMIT
from netif import NetIf

class Square(Shape):
    side: float
    def __init__(self, side: float) -> None:
        super().__init__("square")
        self.side = side
    def area(self) -> float:
        return self.side * self.side

class Circle(shapes.Shape):
    r: float
    def __init__(self, r: float) -> None:
        super().__init__("circle")
        self.r = r
    def area(self) -> float:
        return 3.0 * self.r * self.r

class Drawing:
    parts: list[Shape]
    by_name: dict[str, list[Shape]]
    def __init__(self) -> None:
        self.parts = []
        self.by_name = {}
    def add(self, s: Shape) -> None:
        self.parts.append(s)
        if s.name not in self.by_name:
            self.by_name[s.name] = []
        self.by_name[s.name].append(s)

class Loopback(NetIf):
    queue: list[bytes]
    def __init__(self) -> None:
        super().__init__("lo0", b"\\x02\\x00\\x00\\x00\\x00\\x01", 1500)
        self.queue = []
    def recv_into(self, buf: bytearray) -> int:
        if not self.queue:
            return 0
        frame = self.queue.pop(0)
        buf[0:len(frame)] = frame
        self.rx_frames += 1
        return len(frame)
    def send(self, frame: bytearray, length: int) -> bool:
        self.queue.append(bytes(frame[0:length]))
        self.tx_frames += 1
        return True

d = Drawing()
for i in range(LIMIT):
    d.add(Square(float(i)))
    d.add(Circle(i + 0.5))
for s in d.parts:
    print(s.describe(), isinstance(s, Shape), isinstance(s, Square))
print(f"{total(d.parts):.3f}", sorted(d.by_name), len(d.by_name["circle"]))
nic: NetIf = Loopback()
buf = bytearray(nic.mtu + 14)
nic.send(bytearray(b"0123456789abcdef"), 14)
n = nic.recv_into(buf)
print(n, bytes(buf[0:n]), nic.recv_into(buf), nic.mac.hex(":"), nic.rx_frames, nic.tx_frames)
try:
    NetIf("bad", b"\\x00", 1500)
except ValueError as e:
    print("ValueError:", e)
'''


def test_classes_across_modules(apy, tmp_path: Path) -> None:
    (tmp_path / "shapes.apy").write_text(SHAPES)
    main = tmp_path / "main.apy"
    main.write_text(MAIN)
    expected = apy.cli("pyrun", str(main))
    assert expected.status == 0, expected
    assert b"square: 4.00" in expected.stdout
    actual = apy.run_executable(apy.build(main, tmp_path / "main.exe", cache=False))
    apy.assert_same(expected, actual, "a program of two modules and the stdlib's netif")


@pytest.mark.parametrize("base", ["Missing", "shapes.Missing", "total"])
def test_unknown_base_is_a_diagnostic(apy, tmp_path: Path, base: str) -> None:
    (tmp_path / "shapes.apy").write_text(SHAPES)
    main = tmp_path / "main.apy"
    main.write_text(f"import shapes\nfrom shapes import total\nclass C({base}):\n    pass\n")
    out = apy.cli("check", str(main))
    assert out.status == 1
    assert b"main.apy:3:9: error: a base class must be a class" in out.stdout + out.stderr


def test_from_package_import_submodule(apy, tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.apy").write_text("X: int = 1\n")
    (pkg / "mod.apy").write_text("def f() -> int:\n    return 41\n")
    main = tmp_path / "main.apy"
    main.write_text("from pkg import mod, X\nfrom net.wire import ethernet\n"
                    "print(mod.f() + X, ethernet.HEADER_LEN)\n")
    expected = apy.cli("pyrun", str(main))
    assert expected.stdout == b"42 14\n", expected
    actual = apy.run_executable(apy.build(main, tmp_path / "main.exe", cache=False))
    apy.assert_same(expected, actual, "from package import submodule")
