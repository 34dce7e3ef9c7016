"""modeldoc: documentation websites that explain PyTorch model architectures.

The Python API (importing it imports no torch; `describe` does)::

    import modeldoc

    doc = modeldoc.describe("modeldoc.examples.fashion:Network", input_shape=(1, 1, 28, 28))
    doc.to_json()              # the modeldoc/1 description
    doc.build_site("site")     # a complete mkdocs-material site
    doc                        # in Jupyter: the overview, the diagrams and the layer table
"""

from __future__ import annotations

from modeldoc.api import Description, describe
from modeldoc.errors import ModeldocError

__version__ = "0.1.0"

__all__ = ["Description", "ModeldocError", "__version__", "describe"]
