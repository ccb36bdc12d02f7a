"""``python -m axon_cli ...``: the ``axon`` command, for callers that run it by interpreter (a
worker subprocess started with ``sys.executable``)."""

from .main import main

main()
