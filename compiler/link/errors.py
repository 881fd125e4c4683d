"""The one exception the linker raises.

In: a message. Out: `LinkError`, whose text names the offending symbol,
object and section, so the driver can print it as-is (`applc: error: ...`).
"""


class LinkError(Exception):
    """Inputs that cannot be linked: undefined symbol, overflow, bad object."""

    def __init__(self, message: str, symbol: str | None = None):
        super().__init__(message)
        self.symbol = symbol
