"""The ``axon`` entry point: a typer app whose subcommands live in :mod:`axon_cli.commands`.

Exit codes: 0 success, 2 usage error (click names the bad option), 1 runtime error printed as one
line (``error: ...``) unless ``--debug`` is given, which shows the traceback.
"""

from __future__ import annotations

import sys

import typer

from ._errors import CLIError
from .commands import archive, data, datasets, models, project, rename, report, scaffold, server, system, training

app = typer.Typer(
    name="axon",
    help="The axon deep-learning framework's command line.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_debug = False


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="show the traceback of a runtime error")) -> None:
    global _debug
    _debug = debug


app.command("new")(project.new)
app.command("init")(project.init)
app.command("scaffold")(scaffold.scaffold)
app.command("rename")(rename.rename)
app.command("zip")(archive.zip_project)
app.command("train")(training.train)
app.command("resume")(training.resume)
app.command("eval")(training.evaluate)
app.command("predict")(training.predict)
app.command("inspect")(models.inspect)
app.command("load")(models.load)
app.command("analyze")(models.analyze)
app.command("convert")(models.convert)
app.command("quant")(models.quant)
app.command("generate")(models.generate)
app.command("chat")(models.chat)
app.command("data")(data.data)
app.add_typer(datasets.app, name="dataset")
app.command("report")(report.report)
app.command("gpu")(system.gpu)
app.command("serve")(server.serve)
app.command("start")(server.start)
app.command("status")(server.status)
app.command("logs")(server.logs)
app.command("stop")(server.stop)


def main() -> None:
    """Run the ``axon`` command; see the module docstring for the exit codes."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the command's contract: one line, exit 1
        if _debug:
            raise
        text = str(exc).strip()
        message = text.splitlines()[0] if text else type(exc).__name__
        prefix = "" if isinstance(exc, CLIError) else f"{type(exc).__name__}: "
        print(f"error: {prefix}{message}", file=sys.stderr)
        sys.exit(1)
