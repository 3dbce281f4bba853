"""Subcommands of the `liaviz` command line (see `liaviz.cli`)."""
