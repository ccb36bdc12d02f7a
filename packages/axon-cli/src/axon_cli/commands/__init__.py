"""One module per group of ``axon`` subcommands; each imports the axon packages it needs inside the command."""
