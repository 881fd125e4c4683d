"""tests/netstack: stdlib/net under CPython (and one compiled differential run)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import netload  # noqa: E402,F401  (installs the .apy finder for net.*)
