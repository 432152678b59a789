"""Explanations as regulatory artefacts: adverse-action reason codes and model cards."""

from ._card import ModelCard, model_card
from ._reasons import ProtectedAttributeWarning, reason_codes

__all__ = ["ModelCard", "ProtectedAttributeWarning", "model_card", "reason_codes"]
