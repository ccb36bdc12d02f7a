"""The subcommands of ``python -m axon_quant``, one module each (see :mod:`axon_quant.__main__`)."""
