"""Maintainer commands: each is run as `python -m tools.NAME` (the Makefile says which make target)."""
