"""Load stdlib/net (and the NetIf it builds on) under CPython for the tests.

In:  nothing; importing this module installs the finder.
Out: `net.*` and `drivers.netdev` importable as ordinary Python modules, found
     as `.apy` files in stdlib/ by applc's own pyrun finder -- restricted to
     those names, so stdlib modules that share a name with Python's (`time`)
     never shadow Python's inside the test process.
"""

from __future__ import annotations

import sys
from pathlib import Path

from applc.driver.pyrun import ApyFinder

STDLIB = Path(__file__).resolve().parents[2] / "stdlib"
PROGS = Path(__file__).resolve().parent / "progs"
SERVED = ("net", "drivers")


class NetFinder(ApyFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in SERVED:
            return None
        return super().find_spec(fullname, path, target)


if not any(isinstance(f, NetFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, NetFinder([STDLIB]))
