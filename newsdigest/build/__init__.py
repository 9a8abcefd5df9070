"""The build: gather, plan, write what changed, index for search, keep records."""
