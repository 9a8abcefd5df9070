"""Items arranged as the site shows them: stories by topic and date, editions."""
