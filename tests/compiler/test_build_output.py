"""Where `applc build -o` writes: a regular file is replaced atomically; a special
file (a FIFO, /dev/null) is written into and stays what it was.

Renaming the new image over the output path would, as root, turn /dev/null into a
regular file (`applc build x.apy -o /dev/null` did, and broke dnsmasq's
`--conf-file=/dev/null` for every later test). The test uses a FIFO, never the real
/dev/null: a regression must not damage the machine running it.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path



def test_build_into_a_fifo_keeps_the_fifo(apy, tmp_path: Path) -> None:
    from applc.driver.build import build_file

    src = tmp_path / "hello.apy"
    src.write_text('print("hello")\n')
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received = bytearray()

    def read() -> None:
        with open(fifo, "rb") as f:
            received.extend(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    build_file(str(src), target="hosted", out=str(fifo), use_cache=False)
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received[:4] == b"\x7fELF"


def test_build_replaces_a_regular_file(apy, tmp_path: Path) -> None:
    from applc.driver.build import build_file

    src = tmp_path / "hello.apy"
    src.write_text('print("hello")\n')
    out = tmp_path / "hello"
    out.write_bytes(b"old")
    build_file(str(src), target="hosted", out=str(out), use_cache=False)
    assert out.read_bytes()[:4] == b"\x7fELF" and os.access(out, os.X_OK)
