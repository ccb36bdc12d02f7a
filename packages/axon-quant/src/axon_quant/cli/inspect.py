"""``python -m axon_quant inspect FILE.gguf [--json] [--items N]``: a GGUF file's header, metadata
and tensor table, read by :func:`axon_quant.gguf.read_gguf` (nothing but the header is touched)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

HELP = "Print a GGUF file's metadata and tensor table (name, type, shape, bytes, offset)."
_TEXT_ITEMS = 5  # array items shown in text mode
_TEXT_CHARS = 80  # characters of a string shown in text mode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the GGUF file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--items",
        type=int,
        default=None,
        metavar="N",
        help=f"array items to show (default: {_TEXT_ITEMS} in text, all in --json)",
    )


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: those floats become the strings "nan", "inf", "-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def describe(gguf: Any, items: int | None) -> dict[str, Any]:
    """The file as one JSON-ready dict; arrays longer than ``items`` keep their first ``items``.

    Tensor ``shape`` is NumPy order (``[out, in]``), ``dims`` GGUF order (``ne0`` first),
    ``offset`` absolute in the file, ``bytes`` the data size.
    """
    metadata = {}
    for key, value in gguf.metadata.items():
        entry: dict[str, Any] = {"type": [t.name for t in gguf.metadata_types[key]]}
        if isinstance(value, list):
            entry["length"] = len(value)
            if items is not None and len(value) > items:
                value, entry["truncated"] = value[:items], True
        entry["value"] = _json_safe(value)
        metadata[key] = entry
    tensors = [
        {
            "name": info.name,
            "type": info.ggml_type.name,
            "shape": list(gguf.tensors[info.name].shape),
            "dims": list(info.dims),
            "bytes": info.nbytes,
            "offset": info.offset,
        }
        for info in gguf.tensor_infos.values()
    ]
    return {
        "path": gguf.path,
        "version": gguf.version,
        "file_size": gguf.file_size,
        "alignment": gguf.alignment,
        "data_offset": gguf.data_offset,
        "metadata": metadata,
        "tensors": tensors,
    }


def _text_value(entry: dict[str, Any]) -> str:
    def short(v: Any) -> str:
        text = repr(v)
        return text if len(text) <= _TEXT_CHARS else f"{text[:_TEXT_CHARS]}... ({len(v)} chars)"

    if "length" not in entry:
        return short(entry["value"])
    shown = ", ".join(short(v) for v in entry["value"])
    more = ", ..." if entry.get("truncated") else ""
    return f"[{entry['length']} items] [{shown}{more}]"


def _print_text(info: dict[str, Any]) -> None:
    print(
        f"{info['path']}: GGUF v{info['version']}, {info['file_size']:,} bytes, alignment {info['alignment']}, "
        f"data at {info['data_offset']:,}"
    )
    print(f"\nmetadata ({len(info['metadata'])} keys):")
    width = max((len(k) for k in info["metadata"]), default=0)
    for key, entry in info["metadata"].items():
        print(f"  {key:<{width}}  {'/'.join(entry['type']):<14}  {_text_value(entry)}")
    tensors = info["tensors"]
    print(f"\ntensors ({len(tensors)}, {sum(t['bytes'] for t in tensors):,} bytes; shape in NumPy order):")
    rows = [("name", "type", "shape", "bytes", "offset")]
    rows += [
        (t["name"], t["type"], "x".join(map(str, t["shape"])), f"{t['bytes']:,}", f"{t['offset']:,}") for t in tensors
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print(
            "  "
            + "  ".join(
                cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )


def run(args: argparse.Namespace) -> int:
    from ..errors import GGUFError
    from ..gguf import read_gguf

    items = args.items if args.items is not None else (None if args.json else _TEXT_ITEMS)
    if items is not None and items < 0:
        print("error: --items must be >= 0", file=sys.stderr)
        return 2
    try:
        with read_gguf(args.file) as gguf:
            info = describe(gguf, items)
    except (GGUFError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        if args.json:
            json.dump(info, sys.stdout, ensure_ascii=False, allow_nan=False)
            sys.stdout.write("\n")
        else:
            _print_text(info)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` closed the pipe: stop quietly, and keep exit-time flushes quiet too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
