"""Subcommands of the `mosebench` CLI (light modules: argparse at import, work inside run)."""
