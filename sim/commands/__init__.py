"""Subcommands of the digex command line; see sim/cli.py."""
