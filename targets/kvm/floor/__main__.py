"""Write a floor guest to a file: ``python -m applc.targets.kvm.floor VARIANT OUT``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .guests import VARIANTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m applc.targets.kvm.floor", description=__doc__)
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    args.out.write_bytes(VARIANTS[args.variant]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
