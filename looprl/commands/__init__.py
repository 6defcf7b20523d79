"""`looprl` subcommands, one module per group."""
