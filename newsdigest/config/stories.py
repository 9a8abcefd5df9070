"""The [stories] section of site.toml: how items of different outlets about one story are
clustered (stories/clusters.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StorySettings:
    cluster: bool = True  # items of different outlets about one story show as one
    window_hours: int = 48  # how far apart in time the items of one cluster may be
    # How alike two items' words must be (0 to 1) to be one story: lower joins more.
    similarity: float = 0.1


def parse_stories(data: Any, problems: list[str]) -> StorySettings:
    """[stories] values, each bad one reported in `problems` in the style of the other
    sections."""
    if data is None:
        return StorySettings()
    if not isinstance(data, dict):
        problems.append("[stories]: expected a table")
        return StorySettings()
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "cluster":
            if isinstance(value, bool):
                values[key] = value
            else:
                problems.append(f"stories.cluster: expected true or false, got {value!r}")
        elif key == "window_hours":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 720:
                problems.append("stories.window_hours: expected a whole number of hours from 1 "
                                f"to 720, got {value!r}")
            else:
                values[key] = value
        elif key == "similarity":
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 < value <= 1:
                problems.append("stories.similarity: expected a number above 0 and at most 1 "
                                f"(0.1 is the default), got {value!r}")
            else:
                values[key] = float(value)
        else:
            problems.append(f"stories.{key}: unknown setting (known: cluster, window_hours, "
                            "similarity)")
    return StorySettings(**values)
