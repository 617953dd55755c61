"""Security properties (hostile mail is harmless; nothing is written through a path
another user controls), each with a test; docs/security.md lists them."""
