"""Checks of statements made on the slides, one module per topic, each run on both sides."""
