"""Checking a submitted training config before it is stored: the sections ``axon train`` reads, and
every path in it a plain name of a file the job folder will hold (nothing reaches outside it)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import APIError
from ..schemas import JobCreate
from ..storage import check_name

__all__ = ["RESERVED_NAMES", "JobSpec", "check_submission"]

#: Names the server itself writes in a job folder.
RESERVED_NAMES = ("config.yaml", "config.toml", "job.log", "metrics.jsonl")

#: An upper bound on ``training.epochs`` (a typo of 10**9 would hold a worker for ever).
MAX_EPOCHS = 1_000_000


@dataclass(frozen=True)
class JobSpec:
    """What a job folder gets: the config's text and file name, the text ``files``, the
    ``datasets`` to copy in (name -> dataset id) and the checkpoint folder's name."""

    config_text: str
    config_file: str
    files: dict[str, str] = field(default_factory=dict)
    datasets: dict[str, int] = field(default_factory=dict)
    checkpoint_dir: str = "checkpoints"
    epochs: int = 1


def _invalid(message: str, param: str = "config") -> APIError:
    return APIError(422, message, param=param, code="invalid_config")


def _parse(body: JobCreate) -> tuple[dict[str, Any], str, str]:
    if isinstance(body.config, dict):
        # PyYAML writes floats that it reads back as floats (1.0e-05, not JSON's 1e-05).
        return body.config, yaml.safe_dump(body.config, sort_keys=False), "config.yaml"
    try:
        parsed = tomllib.loads(body.config) if body.format == "toml" else yaml.safe_load(body.config)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise _invalid(f"config: not valid {body.format.upper()} ({exc})") from None
    if not isinstance(parsed, dict):
        raise _invalid("config: must be a mapping of sections")
    return parsed, body.config, f"config.{body.format}"


def _positive_int(section: dict[str, Any], key: str, where: str, default: int, maximum: int | None = None) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (maximum and value > maximum):
        bound = f" up to {maximum}" if maximum else ""
        raise _invalid(f"config: {where}.{key} must be a positive integer{bound}, not {value!r}")
    return value


def _plain_name(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"config: {where} must be a file name, not {value!r}")
    try:
        return check_name(value, where)
    except APIError as exc:
        raise _invalid(f"config: {exc.message}") from None


def check_submission(body: JobCreate) -> JobSpec:
    """The job ``body`` describes, or 422 naming the first problem: a config that does not parse,
    lacks a section ``axon train`` needs, has a non-positive count, or names a model file, data file
    or checkpoint folder that is not a plain name of a file submitted with it."""
    config, text, config_file = _parse(body)
    for section in ("model", "data", "optimizer", "training"):
        if not isinstance(config.get(section), dict):
            raise _invalid(f"config: lacks the {section!r} section (a mapping)")
    for section in ("schedule", "checkpoint"):
        if config.get(section) is not None and not isinstance(config[section], dict):
            raise _invalid(f"config: {section!r} must be a mapping")
    seed = config.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _invalid(f"config: seed must be a non-negative integer, not {seed!r}")
    training = config["training"]
    epochs = _positive_int(training, "epochs", "training", 1, MAX_EPOCHS)
    _positive_int(training, "batch_size", "training", 32)
    checkpoint = config.get("checkpoint") or {}
    _positive_int(checkpoint, "every", "checkpoint", 1)
    checkpoint_dir = _plain_name(checkpoint.get("dir", "checkpoints"), "checkpoint.dir")
    for name in (*body.files, *body.datasets):
        check_name(name, "files" if name in body.files else "datasets")
        if name in RESERVED_NAMES or name == checkpoint_dir:
            message = f"{name!r} is a name the job folder keeps for itself"
            raise APIError(422, message, param="files", code="invalid_name")
    both = set(body.files) & set(body.datasets)
    if both:
        raise APIError(422, f"{sorted(both)} given both as files and datasets", param="files", code="invalid_name")
    named = {"model.file": config["model"].get("file", "model.py"), "data.path": config["data"].get("path")}
    for where, value in named.items():
        name = _plain_name(value, where)
        if name not in body.files and name not in body.datasets:
            raise _invalid(f"config: {where} {name!r} is neither in files nor in datasets", param="files")
    if not isinstance(config["optimizer"].get("name", "AdamW"), str):
        raise _invalid("config: optimizer.name must be a string")
    return JobSpec(
        config_text=text,
        config_file=config_file,
        files=dict(body.files),
        datasets=dict(body.datasets),
        checkpoint_dir=checkpoint_dir,
        epochs=epochs,
    )
