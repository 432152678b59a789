"""Explanations as regulatory artefacts: adverse-action reason codes and model cards."""

from ._card import ModelCard, model_card
from ._reasons import reason_codes

__all__ = ["ModelCard", "model_card", "reason_codes"]
