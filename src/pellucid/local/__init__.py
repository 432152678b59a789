"""Local explanations: LIME (tabular, text, image) and Anchors (tabular, text)."""

from ._anchors import Anchors, AnchorsText
from ._lime import Lime, LimeStability
from ._lime_media import LimeImage, LimeText

__all__ = ["Anchors", "AnchorsText", "Lime", "LimeImage", "LimeStability", "LimeText"]
