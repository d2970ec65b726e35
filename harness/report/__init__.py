"""Results tables."""
