"""One module per `stax` subcommand: `add_arguments(parser)` and `run(args) -> exit code`."""
