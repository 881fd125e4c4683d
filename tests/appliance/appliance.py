"""Constants shared by the appliance tests (a plain module: ``conftest`` is not importable
by name once several conftest.py files are loaded).

REPO and EXAMPLES locate the example appliances; MACHINES are the QEMU machine
types every real-peer test runs on (virtio-mmio and virtio-pci); BOOT_TIMEOUT
bounds every wait for a guest.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
MACHINES = ("microvm", "q35")
BOOT_TIMEOUT = 120.0  # TCG on a loaded 2-core machine: generous, but bounded (a broken stack costs CI this per test)
