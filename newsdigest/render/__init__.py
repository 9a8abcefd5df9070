"""Pages, feeds, sitemaps, JSON and email made from the stories, with the theme."""
