"""``python -m axon_quant COMMAND ...``: one module per subcommand under :mod:`axon_quant.cli`.

Each command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``, and keeps
its heavy imports (Numba kernels, the runtime) inside ``run`` so building the parser stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: command name -> module implementing it.
COMMANDS: dict[str, str] = {
    "inspect": "axon_quant.cli.inspect",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axon_quant", description="Quantized GGUF inference with axon.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(commands.add_parser(name, help=module.HELP, description=module.HELP))
    args = parser.parse_args(argv)
    return importlib.import_module(COMMANDS[args.command]).run(args)


if __name__ == "__main__":
    sys.exit(main())
