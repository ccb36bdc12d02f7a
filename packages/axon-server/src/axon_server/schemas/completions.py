"""``POST /v1/completions`` body."""

from __future__ import annotations

from pydantic import Field

from .sampling import SamplingFields

__all__ = ["CompletionRequest"]


class CompletionRequest(SamplingFields):
    """``prompt``: a string, a list of strings (one completion set each), token ids or lists of
    them. ``max_tokens`` defaults to 16 as OpenAI's; ``logprobs``: how many best alternatives to
    report per token (0 to 5; 0: only the chosen token's)."""

    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int = Field(16, ge=1)
    logprobs: int | None = Field(None, ge=0, le=5)

    def prompts(self) -> list[str | list[int]]:
        p = self.prompt
        if isinstance(p, str):
            return [p]
        if p and all(isinstance(x, int) for x in p):
            return [list(p)]
        return list(p)
