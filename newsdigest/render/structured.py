"""Structured data (schema.org JSON-LD) for search engines, computed from page values."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from newsdigest.config.site import SiteConfig
from newsdigest.render.pages import Crumb, PageMeta
from newsdigest.stories.grouping import Story

# Characters that mean something to an HTML parser (or end a line in old JavaScript) where
# JSON text is inlined into a page, written as the \u escapes Go's encoding/json uses: the
# value is the same, the bytes can never close a <script> or start an entity.
_INERT = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
          ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def inert_json(value: Any) -> str:
    """Compact JSON that stays inert when a page inlines it: every JSON file the site writes
    (JSON Feed, the API, JSON-LD) goes through here."""
    # Compact on purpose: `indent` switches json to its pure-Python encoder.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _INERT:
        text = text.replace(raw, escaped)  # outside strings JSON has none of these characters
    return text


def script_json(data: dict[str, Any]) -> Markup:
    """JSON to put inside <script>: what Jinja's tojson gives (an apostrophe escaped too, for
    attributes in single quotes), without sorting the keys (the order is already fixed) and
    with no filter call per page."""
    return Markup(inert_json(data).replace("'", "\\u0027"))


def breadcrumbs(page: PageMeta, config: SiteConfig) -> dict[str, Any]:
    trail = [*page.breadcrumbs, Crumb(page.heading, page.path)] if page.breadcrumbs else []
    return {
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": n, "name": crumb.label,
             "item": config.absolute_url(crumb.path)}
            for n, crumb in enumerate(trail, start=1)
        ],
    }


def list_page(page: PageMeta, config: SiteConfig) -> dict[str, Any]:
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "CollectionPage",
        "name": page.heading,
        "description": page.description,
        "url": config.absolute_url(page.path),
        "inLanguage": config.language,
        "isPartOf": {"@type": "WebSite", "name": config.title,
                     "url": config.absolute_url("")},
    }
    if page.breadcrumbs:
        data["breadcrumb"] = breadcrumbs(page, config)
    return data


def logo_url(story: Story, config: SiteConfig) -> str:
    """The full URL of the provider's logo: a remote logo's own, a local one's published
    thumbnail (the file in content/ is never published); '' if there is none."""
    logo = story.item.provider.logo
    if logo is None:
        return ""
    if not logo.local:
        return logo.url
    return config.origin + story.logo.src if story.logo else ""


def item_page(page: PageMeta, story: Story, config: SiteConfig) -> dict[str, Any]:
    item = story.item
    url = config.absolute_url(story.path)
    image = config.absolute_link(story.image_url) if story.image_url else ""
    publisher = {"@type": "Organization", "name": item.provider.name}
    if item.provider.domain:
        publisher["url"] = f"https://{item.provider.domain}/"
    if logo := logo_url(story, config):
        publisher["logo"] = {"@type": "ImageObject", "url": logo}
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        # Paid content says so to search engines too (schema.org's type for it).
        "@type": "AdvertiserContentArticle" if item.sponsored else "NewsArticle",
        "headline": item.title[:110],
        "description": item.excerpt or item.title,
        "url": url,
        "mainEntityOfPage": url,
        "datePublished": item.published_at.isoformat(),
        "dateModified": story.modified.isoformat(),
        "publisher": publisher,
        "author": publisher,
        "isBasedOn": item.url,
        "about": [t.name for t in story.topics],
        "inLanguage": config.language,
        "breadcrumb": breadcrumbs(page, config),
    }
    if image:
        data["image"] = [image]
    if item.discussion:
        data["discussionUrl"] = list(item.discussion)
    if item.embed is not None:
        video: dict[str, Any] = {
            "@type": "VideoObject",
            "name": item.title,
            "description": item.excerpt or item.title,
            "uploadDate": item.published_at.isoformat(),
            "embedUrl": item.embed.src,
            "contentUrl": item.embed.watch_url,
            "thumbnailUrl": [image or item.embed.poster_url],
        }
        if item.length_seconds is not None:
            minutes, seconds = divmod(item.length_seconds, 60)
            hours, minutes = divmod(minutes, 60)
            video["duration"] = f"PT{hours}H{minutes}M{seconds}S"
        data["video"] = video
    return data
