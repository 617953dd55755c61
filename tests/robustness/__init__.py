"""Hostile input through the milter adapter: corpus, generated and fuzzed (issue 4, item 3)."""
