"""The one exception type that user mistakes raise.

Everything a user can get wrong (a bad YAML file, an unknown shipped name, a
mapping that does not fit) raises :class:`EnergySimError` with a message that
names the file, the field path and what was expected. Only the command line
turns it into an exit code; library code never exits or prints.
"""

from __future__ import annotations


class EnergySimError(Exception):
    """A user error: bad input, unknown name, impossible request.

    The message is complete on its own: it says where (file, field path), what
    was found and what was expected, so a caller can show it as is.
    """
