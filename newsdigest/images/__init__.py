"""The image stage: which picture each story shows, fetched, checked and thumbnailed."""
