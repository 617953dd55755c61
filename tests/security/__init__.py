"""Security properties of SPEC invariant 3, each with a test (issue 4, item 4)."""
