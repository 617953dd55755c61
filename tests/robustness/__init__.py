"""Hostile input through the milter adapter: corpus, generated and fuzzed."""
