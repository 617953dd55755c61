"""One module per `mailspy` subcommand; mailspy/cli.py only parses arguments."""
