"""The benchmark: mailspy against its ceilings (see bench/run.py)."""
