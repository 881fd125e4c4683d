"""The `hosted` target: an applc program as an ordinary static Linux executable.

Out: `TARGET`, the Target record the compiler uses (applc.link.target).
The platform code is in platform.py; the image is a static, non-PIE ELF
linked at 4 MiB, with no libc and no dynamic loader.
"""

from applc.link.elf import LinkSpec
from applc.link.target import Target
from applc.targets.hosted.platform import TRIPLE, platform_ir

TARGET = Target(
    name="hosted",
    triple=TRIPLE,
    cpu="x86-64",
    features="",
    no_red_zone=False,
    link_spec=LinkSpec(base_address=0x400000, entry="_start", gnu_stack=True),
    make_platform_ir=platform_ir,
)
