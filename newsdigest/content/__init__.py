"""Content files: found, parsed, validated into items, with their Markdown and duplicate keys."""
