"""What a build did: counted, warned of and made, for the command line and the preview."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from newsdigest.build.output import WriteReport
from newsdigest.errors import Problem
from newsdigest.images.resolve import ImageReport

if TYPE_CHECKING:
    from newsdigest.stories.grouping import SiteIndex


@dataclass
class BuildReport:
    items: int
    pages: int
    seconds: float
    parsed: int
    write: WriteReport
    warnings: list[Problem]
    skipped: list[Problem]
    excluded: dict[str, list[str]]
    explanations: list[str] = field(default_factory=list)
    index: SiteIndex | None = None  # what was built, for callers that keep it (serve)
    digest_summary: str = ""  # the curation report in one line, for the end of a build
    images: ImageReport = field(default_factory=ImageReport)
    # Content files patched into the last build's kept site state (kept_state.py); None when
    # this build read, grouped and pictured every item.
    patched: list[str] | None = None
