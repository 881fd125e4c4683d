"""The `kvm` target: an applc program as a bare-metal x86-64 PVH image.

Out: `TARGET`, the Target record the compiler uses (applc.link.target). The
image is linked at 1 MiB, physical = virtual, and boots with
`qemu-system-x86_64 -M microvm|q35|pc -kernel image.elf` (and other PVH
loaders: Firecracker, Cloud Hypervisor). platform.py builds the platform
module; qemu.py (the runner) and floor/ (minimal test guests) sit beside it.
"""

from applc.link.elf import LinkSpec
from applc.link.target import Target
from applc.targets.kvm.platform import TRIPLE, platform_ir

TARGET = Target(
    name="kvm",
    triple=TRIPLE,
    cpu="x86-64",
    features="",
    no_red_zone=True,
    link_spec=LinkSpec(base_address=0x100000, entry="applc_pvh_start", physical_equals_virtual=True),
    make_platform_ir=platform_ir,
)
