"""Pure torch modules of LIA: no file or network I/O happens here."""

from .config import LIAConfig
from .lia import LIA, SourceState
from .synthesis import SynthesisOutput

__all__ = ["LIA", "LIAConfig", "SourceState", "SynthesisOutput"]
