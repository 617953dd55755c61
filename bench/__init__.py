"""The benchmark of GitHub issue 5: mailspy against its ceilings (see bench/run.py)."""
