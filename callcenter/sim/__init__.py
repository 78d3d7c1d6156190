"""A protocol-faithful Asterisk simulator for tests and the demo (never used in production)."""
