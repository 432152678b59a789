"""Explanations as regulatory artefacts: adverse-action reason codes and model cards."""

from ._card import model_card
from ._card_result import GroupSection, IntendedUse, ModelCard, ModelDetails
from ._reasons import ProtectedAttributeWarning, reason_codes

__all__ = [
    "GroupSection",
    "IntendedUse",
    "ModelCard",
    "ModelDetails",
    "ProtectedAttributeWarning",
    "model_card",
    "reason_codes",
]
