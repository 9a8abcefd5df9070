"""Settings: site.toml read and checked into frozen values, one module per section."""
