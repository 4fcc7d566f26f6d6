"""seqkit's own subcommands, one module each, imported only when the command runs."""
