"""Source rewrites that turn a CUDA C kernel source into a g++ translation unit.

What the prelude's macros cannot do alone: ``extern __shared__ T name[];`` (the dynamic shared
memory of a launch) becomes a pointer into the worker's per-block buffer, static ``__shared__``
arrays are marked so debug launches can poison them per block, and each ``__global__`` function
gets an exported entry point (``AXON_SIM_EXPORT``).
"""

from __future__ import annotations

import re

__all__ = ["kernel_names", "mark_static_shared", "pointer_access", "rewrite_dynamic_shared", "to_translation_unit"]

_ALIGN = r"(?:__align__\s*\(\s*\d+\s*\)\s*)?"
_EXTERN_SHARED = re.compile(
    r"extern\s+"
    + _ALIGN
    + r"__shared__\s+"
    + _ALIGN
    + r"(?P<type>[A-Za-z_][\w:\s]*?)\s+"
    + _ALIGN
    + r"(?P<name>[A-Za-z_]\w*)\s*\[\s*\]\s*"
    + _ALIGN
    + r";"
)
_GLOBAL = re.compile(
    r"__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?"
    r"(?P<name>[A-Za-z_]\w*)\s*\("
)
_TEMPLATE_BEFORE = re.compile(r"template\s*<[^;{}]*>\s*(?:extern\s+\"C\"\s*)?(?:static\s+)?$")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def _blank_comments(source: str) -> str:
    """The source with comments replaced by spaces (same length, so offsets still match)."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)


def kernel_names(source: str) -> list[str]:
    """Names of the non-template ``__global__`` functions of ``source``, in order, each once."""
    code = _blank_comments(source)
    names: list[str] = []
    for match in _GLOBAL.finditer(code):
        if _TEMPLATE_BEFORE.search(code[max(0, match.start() - 300) : match.start()]):
            continue
        if match.group("name") not in names:
            names.append(match.group("name"))
    return names


def pointer_access(source: str) -> dict[str, tuple[str | None, ...]]:
    """Per non-template ``__global__`` function, what each parameter lets the kernel do to memory:
    ``"r"`` for a pointer to const (``const T*``, ``T const*``: read only), ``"w"`` for any other
    pointer (may be written), None for a value. cuda-sim's stream checker reads it to know which
    arguments of a launch it reads and which it writes."""
    code = _blank_comments(source)
    access: dict[str, tuple[str | None, ...]] = {}
    for match in _GLOBAL.finditer(code):
        name = match.group("name")
        if name in access or _TEMPLATE_BEFORE.search(code[max(0, match.start() - 300) : match.start()]):
            continue
        depth, at = 1, match.end()
        while depth and at < len(code):
            depth += {"(": 1, ")": -1}.get(code[at], 0)
            at += 1
        params, depth, piece = [], 0, []
        for char in code[match.end() : at - 1]:
            depth += {"(": 1, "<": 1, ")": -1, ">": -1}.get(char, 0)
            if char == "," and depth == 0:
                params.append("".join(piece))
                piece = []
            else:
                piece.append(char)
        params.append("".join(piece))
        kinds: list[str | None] = []
        for param in (p.strip() for p in params):
            if not param or param == "void":
                continue
            if "*" not in param:
                kinds.append(None)
            else:
                pointee = param[: param.rindex("*")]  # the type the outermost pointer points to
                pointee = pointee[pointee.rfind("*") + 1 :]  # its own qualifiers (after any inner *)
                kinds.append("r" if re.search(r"\bconst\b", pointee) else "w")
        access[name] = tuple(kinds)
    return access


def rewrite_dynamic_shared(source: str) -> str:
    """Turn ``extern __shared__ T name[];`` into a pointer to the launch's dynamic shared memory."""
    code = _blank_comments(source)
    pieces: list[str] = []
    last = 0
    for match in _EXTERN_SHARED.finditer(code):
        type_name = " ".join(match.group("type").split())
        name = match.group("name")
        depth = code.count("{", 0, match.start()) - code.count("}", 0, match.start())
        if depth > 0:
            replacement = f"{type_name}* const {name} = reinterpret_cast<{type_name}*>(::axon_sim::dynamic_shared());"
        else:
            # At file scope there is no launch yet: every use reads the current worker's buffer.
            replacement = f"\n#define {name} (reinterpret_cast<{type_name}*>(::axon_sim::dynamic_shared()))\n"
        pieces.append(source[last : match.start()])
        pieces.append(replacement)
        last = match.end()
    pieces.append(source[last:])
    return "".join(pieces)


_STATIC_SHARED = re.compile(
    r"(?<![\w])__shared__\s+" + _ALIGN + r"(?P<decl>[^;{}()=,]*?\b(?P<name>[A-Za-z_]\w*)\s*(?:\[[^;{}\[\],]*\])*)\s*;"
)


def mark_static_shared(source: str) -> str:
    """After each function-scope ``__shared__ T name[...];``, tell the runtime the block uses it.

    In debug launches the runtime fills the variable with 0xff bytes (NaN for floats) the first
    time a block reaches the declaration, so a kernel that reads shared memory no thread of this
    block wrote computes a visibly wrong answer instead of the previous block's leftovers.
    Declarations of several names at once, or at file scope, are left alone.
    """
    code = _blank_comments(source)
    pieces: list[str] = []
    last = 0
    for match in _STATIC_SHARED.finditer(code):
        if code.count("{", 0, match.start()) - code.count("}", 0, match.start()) <= 0:
            continue
        name = match.group("name")
        pieces.append(source[last : match.end()])
        pieces.append(f" ::axon_sim::fresh_shared(&{name}, sizeof({name}));")
        last = match.end()
    pieces.append(source[last:])
    return "".join(pieces)


def to_translation_unit(source: str, name: str = "kernel") -> tuple[str, list[str]]:
    """The g++ source for ``source`` (prelude force-included separately) and its kernel names."""
    names = kernel_names(source)
    body = mark_static_shared(rewrite_dynamic_shared(source))
    exports = "".join(f"AXON_SIM_EXPORT({kernel})\n" for kernel in names)
    return f'#line 1 "{name}.cu"\n{body}\n#line 1 "axon_sim_exports"\n{exports}', names
