"""Load stage: a content file read into front matter + body, or a located problem.

The block is split here line by line, with python-frontmatter's boundary pattern, rather than by
frontmatter.load(): that silently drops front matter after a BOM, in an unterminated block or when
the block is a list, and its YAML errors count lines from the block, not the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import frontmatter
import yaml

from newsdigest.content.files import SourceFile
from newsdigest.errors import Problem

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_BOUNDARY = frontmatter.YAMLHandler.FM_BOUNDARY
_LAST_STEP = re.compile(r"(\.[^.\[]*|\[\d+\])$")
# Whole numbers in front matter beyond 64 bits are a mistake or an attack: past 4,300 digits
# even str() of one raises, so they are refused where YAML makes them.
MAX_YAML_INT = 2**63 - 1

@dataclass
class RawItem:
    """Front matter as YAML gave it, with the line of every field, and the Markdown body."""

    source: str
    data: dict[str, Any]
    body: str
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, name: str) -> int | None:
        """The file line of a field path such as 'images[0].url', or of its nearest parent."""
        while name:
            if name in self.lines:
                return self.lines[name]
            parent = parent_field(name)
            if parent == name:
                return None
            name = parent
        return None


def parent_field(path: str) -> str:
    """'images[0].url' -> 'images[0]' -> 'images'; a top-level field is its own parent."""
    return _LAST_STEP.sub("", path)


def decode(source: SourceFile, data: bytes) -> str | Problem:
    """Strict UTF-8 (a BOM is fine), LF line endings; never guess another encoding."""
    if not data.strip():
        return Problem(source.rel, None, "", "empty file")
    if b"\x00" in data:
        return Problem(source.rel, None, "", "binary file (contains NUL bytes), not a news item")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Problem(
            source.rel, None, "", f"not valid UTF-8 at byte {exc.start}", "save the file as UTF-8"
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse(source: SourceFile, text: str, max_front_matter_bytes: int = 64 * 1024
          ) -> RawItem | Problem:
    """Split and parse the front matter block of a decoded file."""
    lines = text.split("\n")
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start == len(lines) or not _BOUNDARY.match(lines[start]):
        return Problem(
            source.rel, start + 1, "front matter", "missing: the file must start with '---'"
        )
    end = next((i for i in range(start + 1, len(lines)) if _BOUNDARY.match(lines[i])), None)
    if end is None:
        return Problem(
            source.rel, start + 1, "front matter", "not terminated: no closing '---' line"
        )
    first_line = start + 2  # 1-based file line of the first YAML line
    block = "\n".join(lines[start + 1 : end])
    if len(block) > max_front_matter_bytes:
        return Problem(source.rel, start + 1, "front matter",
                       f"too large ({len(block) // 1024} KB > limit "
                       f"{max_front_matter_bytes // 1024} KB)")
    body = "\n".join(lines[end + 1 :]).strip("\n")
    return parse_yaml_mapping(source.rel, block, first_line, body)


def parse_yaml_mapping(rel: str, block: str, first_line: int, body: str) -> RawItem | Problem:
    loader = _Loader(block)
    try:
        node = loader.get_single_node()
        if node is None:
            return Problem(rel, first_line, "front matter", "empty: expected a mapping of fields")
        if not isinstance(node, yaml.MappingNode):
            return Problem(
                rel,
                node.start_mark.line + first_line,
                "front matter",
                f"must be a mapping of fields, not a {_node_kind(node)}",
            )
        lines: dict[str, int] = {}
        data = _Converter(loader, lines, first_line).value(node, "")
    except _Refused as exc:
        return Problem(rel, exc.line, exc.field, exc.message)
    except yaml.MarkedYAMLError as exc:
        # An unclosed [ or { is reported where the file ends; where it opened is more useful.
        opened = exc.context_mark if exc.context and "flow" in exc.context else None
        mark = opened or exc.problem_mark or exc.context_mark
        line = mark.line + first_line if mark else None
        return Problem(
            rel,
            line,
            "front matter",
            f"YAML: {exc.problem or exc.context}",
            _yaml_hint(str(exc.problem), block, mark.line if mark else None),
            mark.column + 1 if mark else None,
        )
    except yaml.YAMLError as exc:
        return Problem(rel, first_line, "front matter", f"YAML: {exc}")
    finally:
        loader.dispose()
    return RawItem(rel, data, body, lines)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML (the C parser when present) that leaves timestamps as text for model.py."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        # A plain scalar's type depends on its text alone, and the same texts (true, 0, topic
        # names) recur in every file: the regex walk is a sixth of parsing, so answers are kept.
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                if len(_PLAIN_TAGS) > 100_000:
                    _PLAIN_TAGS.clear()
                tag = _PLAIN_TAGS[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


_PLAIN_TAGS: dict[str, str] = {}


class _Refused(Exception):
    def __init__(self, line: int, field: str, message: str):
        self.line, self.field, self.message = line, field, message


_STR = "tag:yaml.org,2002:str"
_SCALARS = {
    "tag:yaml.org,2002:null": "construct_yaml_null",
    "tag:yaml.org,2002:bool": "construct_yaml_bool",
    "tag:yaml.org,2002:int": "construct_yaml_int",
    "tag:yaml.org,2002:float": "construct_yaml_float",
    _TIMESTAMP_TAG: "construct_scalar",  # an explicit !!timestamp stays text for model.py
}


class _Converter:
    """YAML nodes to plain values in one pass, recording each field's line.

    It refuses what front matter never needs and attackers like: aliases (the "billion laughs"
    expansion), merge keys, duplicate keys (YAML silently keeps the last), and any tag beyond
    text, numbers, booleans, null, lists and mappings. It also replaces PyYAML's generic
    constructor, which is a third of the cost of loading an item.
    """

    def __init__(self, loader: yaml.Loader, lines: dict[str, int], offset: int):
        self.loader, self.lines, self.offset = loader, lines, offset
        self.seen: set[int] = set()

    def refuse(self, node: yaml.Node, field: str, message: str) -> _Refused:
        return _Refused(node.start_mark.line + self.offset, field or "front matter", message)

    def value(self, node: yaml.Node, path: str) -> Any:
        if id(node) in self.seen:
            # The node is the anchored one: name the line of the field that repeats it.
            parent = parent_field(path)
            line = self.lines.get(path) or self.lines.get(parent) or node.start_mark.line
            raise _Refused(line, path or "front matter", "anchors/aliases not allowed")
        self.seen.add(id(node))
        if path and path not in self.lines:
            self.lines[path] = node.start_mark.line + self.offset
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR:
                return node.value
            method = _SCALARS.get(node.tag)
            if method is None:
                raise self.refuse(node, path, f"unsupported YAML tag {node.tag}")
            try:
                value = getattr(self.loader, method)(node)
            except ValueError:  # int() refuses more than 4,300 digits
                raise self.refuse(node, path, "number too large") from None
            if type(value) is int and not -MAX_YAML_INT <= value <= MAX_YAML_INT:
                raise self.refuse(node, path, "number too large")
            return value
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise self.refuse(node, path, f"unsupported YAML tag {node.tag}")
            return [self.value(entry, f"{path}[{index}]") for index, entry in
                    enumerate(node.value)]
        if node.tag != "tag:yaml.org,2002:map":
            raise self.refuse(node, path, f"unsupported YAML tag {node.tag}")
        mapping: dict[Any, Any] = {}
        seen, lines = self.seen, self.lines
        for key_node, value_node in node.value:
            # Field names are text nearly always: taken here too.
            if (key_node.tag == _STR and type(key_node) is yaml.ScalarNode
                    and id(key_node) not in seen):
                seen.add(id(key_node))
                key = key_node.value
            elif key_node.tag == "tag:yaml.org,2002:merge":
                raise self.refuse(key_node, path, "anchors/aliases not allowed")
            elif not isinstance(key_node, yaml.ScalarNode):
                raise self.refuse(key_node, path, "a field name must be plain text")
            else:
                key = self.value(key_node, "")
            child = f"{path}.{key}" if path else str(key)
            if key in mapping:
                raise self.refuse(key_node, child, "duplicate key")
            lines[child] = key_node.start_mark.line + self.offset
            # Text values are most of a file: taken here, without a call per value.
            if (value_node.tag == _STR and type(value_node) is yaml.ScalarNode
                    and id(value_node) not in seen):
                seen.add(id(value_node))
                mapping[key] = value_node.value
            else:
                mapping[key] = self.value(value_node, child)
        return mapping


def _node_kind(node: yaml.Node) -> str:
    return "list" if isinstance(node, yaml.SequenceNode) else "single value"


def _yaml_hint(problem: str, block: str, line: int | None) -> str:
    text = block.split("\n")[line] if line is not None and line < len(block.split("\n")) else ""
    if "mapping values are not allowed" in problem:
        return "quote values containing ': ', e.g. title: \"GPT-5: what changed\""
    if "\t" in text or "tab" in problem:
        return "tab character violates indentation: indent with spaces"
    if "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        return "close the [ ] or { } list, or quote the value"
    return ""
