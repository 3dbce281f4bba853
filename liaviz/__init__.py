"""liaviz."""
