"""The Linux side of the hosted TAP test: run inside the test's network namespace.

In:  argv: interface name, frame count, seed, guest MAC (hex, no colons).
Out: sends that many random frames (60-1514 bytes, EtherType 0x88b5, a
     sequence number) out of the interface through an AF_PACKET socket, one
     window of 8 at a time, and checks that each comes back with destination =
     our MAC and source = the guest's MAC, the rest unchanged. Prints one line,
     "ok N" or "fail: why", and exits 0 or 1. Every wait is bounded.
"""

import random
import select
import socket
import struct
import sys

ETHERTYPE = 0x88B5
OUR_MAC = bytes.fromhex("020000bb0001")
PACKET_OUTGOING = 4
TIMEOUT = 20.0


def main() -> int:
    ifname, count, seed, guest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), bytes.fromhex(sys.argv[4])
    rnd = random.Random(seed)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
    s.bind((ifname, ETHERTYPE))
    pending: dict[int, bytes] = {}
    sent = done = 0
    while done < count:
        while len(pending) < 8 and sent < count:
            body = OUR_MAC + struct.pack("!HI", ETHERTYPE, sent)
            frame = guest + body + rnd.randbytes(rnd.randint(60, 1514) - 6 - len(body))
            pending[sent] = frame
            s.send(frame)
            sent += 1
        if not select.select([s], [], [], TIMEOUT)[0]:
            print(f"fail: no echo within {TIMEOUT} s after {done} frames")
            return 1
        back, addr = s.recvfrom(65536)
        if addr[2] == PACKET_OUTGOING:
            continue  # our own frame, seen on its way out
        seq = struct.unpack_from("!I", back, 14)[0]
        frame = pending.pop(seq, None)
        if frame is None or back != OUR_MAC + guest + frame[12:]:
            print(f"fail: frame {seq} came back altered or unexpected ({len(back)} bytes)")
            return 1
        done += 1
    print(f"ok {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
