"""Text as a bag of distinct words, for word-masking explainers (LimeText, AnchorsText)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

Tokenizer = Callable[[str], list[str]]
_WORD = re.compile(r"\w+", flags=re.UNICODE)


def _spans(text: str, tokenizer: Tokenizer | None) -> list[tuple[int, int]]:
    if tokenizer is None:
        return [m.span() for m in _WORD.finditer(text)]
    spans = []
    cursor = 0
    for tok in tokenizer(text):
        tok = str(tok)
        if not tok:
            continue
        start = text.find(tok, cursor)
        if start < 0:
            raise ValueError(
                f"The tokenizer returned {tok!r}, which is not found in the text after position "
                f"{cursor}; tokens must be substrings of the text, in order."
            )
        spans.append((start, start + len(tok)))
        cursor = start + len(tok)
    return spans


class TokenizedText:
    """A text split into tokens, with the distinct words as features.

    Hiding a word hides every occurrence of it (lime's bag-of-words mode);
    the text between tokens is kept as it was.
    """

    def __init__(self, text: str, tokenizer: Tokenizer | None = None) -> None:
        if not isinstance(text, str):
            raise TypeError(f"Expected one text (str); got {type(text).__name__}.")
        self.text = text
        spans = _spans(text, tokenizer)
        self.tokens = [text[a:b] for a, b in spans]
        self.gaps = [text[(spans[i - 1][1] if i else 0) : a] for i, (a, _) in enumerate(spans)]
        self.tail = text[spans[-1][1] :] if spans else text
        vocab: dict[str, int] = {}
        for tok in self.tokens:
            vocab.setdefault(tok, len(vocab))
        self.words = list(vocab)
        self.token_word = np.array([vocab[t] for t in self.tokens], dtype=np.intp)
        if not self.words:
            raise ValueError(f"No words found in the text {text[:60]!r}.")

    @property
    def n_words(self) -> int:
        return len(self.words)

    def render(self, keep: np.ndarray, mask: str | None = None) -> list[str]:
        """Texts for each row of ``keep`` (n, n_words): hidden words removed or replaced by ``mask``."""
        out = []
        fill = "" if mask is None else mask
        for row in np.asarray(keep, dtype=bool):
            kept = row[self.token_word]
            parts = []
            for gap, tok, k in zip(self.gaps, self.tokens, kept, strict=True):
                parts.append(gap)
                parts.append(tok if k else fill)
            parts.append(self.tail)
            out.append("".join(parts))
        return out


def text_predict(model: Any) -> Callable[[list[str]], np.ndarray]:
    """A function texts -> float outputs: predict_proba when the model has it, else a call."""
    if hasattr(model, "predict_proba"):
        return lambda texts: np.asarray(model.predict_proba(texts), dtype=float)
    if callable(model):
        return lambda texts: np.asarray(model(texts))
    raise TypeError(
        f"Cannot call {type(model).__name__!r} on texts: pass a callable f(list[str]) -> array "
        "or an estimator with predict_proba."
    )
