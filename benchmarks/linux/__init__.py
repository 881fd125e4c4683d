"""Helpers of benchmarks/linux_baseline.py: the Linux microVM that does the appliance's job.

kernel.py     Debian packages -> vmlinux ELF (PVH-bootable) and kernel modules
lz4legacy.py  the bzImage payload codec Debian's cloud kernel uses, in Python
initramfs.py  newc cpio archive writer and the baseline's /init
echo_server.py a ~300-byte static Linux UDP echo server (busybox 1.35 has none)
measure.py    launch -> first reply, round trips per second, smallest -m
"""
