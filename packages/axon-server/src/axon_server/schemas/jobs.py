"""The body of ``POST /jobs``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JobCreate"]


class JobCreate(BaseModel):
    """``config``: the training config ``axon train`` takes, as its YAML or TOML text (``format``)
    or as the parsed mapping. ``files``: text files the job folder holds beside it (``model.py``,
    ``data.csv``: plain names, no path parts). ``datasets``: a file name in the job folder mapped to
    the id of one of the caller's uploaded datasets, copied there (for ``data.path``)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")
    config: str | dict[str, Any]
    format: Literal["yaml", "toml"] = "yaml"
    files: dict[str, str] = Field(default_factory=dict, max_length=64)
    datasets: dict[str, Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(default_factory=dict, max_length=16)
