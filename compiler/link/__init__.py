"""applc.link: the back end's last step -- objects to a bootable/runnable image.

`link(objects, spec) -> LinkResult` (elf.py) is the linker; `Target`
(target.py) describes a target to the compiler: triple, CPU, platform IR
and how to link for it. Targets themselves live in applc.targets.<name>.
"""

from applc.link.elf import LinkError, LinkResult, LinkSpec, OutputSection, SymbolInfo, link

__all__ = ["LinkError", "LinkResult", "LinkSpec", "OutputSection", "SymbolInfo", "link"]
