"""User-facing errors: each knows its message and exit code; only cli.py prints them."""

from __future__ import annotations

import re
from dataclasses import dataclass

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

# Front matter fields whose value is a credential (`secured`: a signed blob from the pipeline):
# kept in the file, never rendered, and never quoted by an error either, since `serve` sends
# errors to the browser.
SECRET_FIELDS = frozenset({"secured"})
_LEADING_WORDS = re.compile(r"[A-Za-z][A-Za-z ,/-]*")


def is_secret_field(field: str) -> bool:
    """`secured`, or anything inside it (`secured[0]`, `secured.key`)."""
    return field.partition(".")[0].partition("[")[0] in SECRET_FIELDS


def _without_value(text: str) -> str:
    """A message's leading words, without what follows them: a quoted text, a YAML tag or a
    number there may be a piece of the value."""
    words = _LEADING_WORDS.match(text)
    kept = words.group().rstrip(" ,") if words else ""
    if kept == text:
        return text
    return f"{kept} (the value is not shown)" if kept else "invalid (the value is not shown)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in one input file, located as precisely as known."""

    path: str
    line: int | None
    field: str
    message: str
    hint: str = ""
    column: int | None = None

    def __post_init__(self) -> None:
        if is_secret_field(self.field):
            object.__setattr__(self, "message", _without_value(self.message))
            if self.hint and _without_value(self.hint) != self.hint:
                object.__setattr__(self, "hint", "")

    def sort_key(self) -> tuple[str, int, str, str]:
        """File order, then line order; problems without a line first."""
        return (self.path, self.line or 0, self.field, self.message)

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.line is not None and self.column is not None:
            where += f":{self.column}"
        text = ": ".join(part for part in (where, self.field, self.message) if part)
        return f"{text} ({self.hint})" if self.hint else text


class NewsdigestError(Exception):
    """An error the user can act on; `str()` is the whole message.

    `problems` locate it (file, line, field) when it has a place, as Problems: the preview
    server shows each with the lines around it, without reading it back out of the message.
    """

    exit_code = EXIT_INVALID

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


class UsageError(NewsdigestError):
    exit_code = EXIT_USAGE


class ConfigError(NewsdigestError):
    """site.toml is unusable: every problem is listed at once."""

    exit_code = EXIT_USAGE

    def __init__(self, path: str, problems: list[str]):
        located = [Problem(path, None, "", problem) for problem in problems]
        super().__init__("\n".join(map(str, located)), located)


class ContentInvalid(NewsdigestError):
    """Some content files cannot be used; nothing was written."""

    def __init__(self, problems: list[Problem], skippable: bool = True):
        problems = sorted(problems, key=Problem.sort_key)
        files = len({p.path for p in problems})
        lines = [str(p) for p in problems]
        lines.append(
            f"error: {files} invalid file{'s' if files != 1 else ''}; nothing was written "
            + ("(fix them, or build the rest with --skip-invalid)" if skippable else
               "(fix them: strict = true in site.toml makes every warning an error)")
        )
        super().__init__("\n".join(lines), problems)


class TemplateFailure(NewsdigestError):
    """A template cannot be loaded or rendered; the previous output is left as it was."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem), [problem])


class OutputRefused(NewsdigestError):
    """The output folder is somewhere it must not be (the content folder, /, ...)."""

    exit_code = EXIT_USAGE
