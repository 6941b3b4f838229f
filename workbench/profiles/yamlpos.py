"""YAML loading that remembers where every value came from.

pydantic reports errors by location (`('network', 'bridge')`); users want `file:line`. We compose
the YAML node tree once, construct plain data from it, and record the line of every mapping key
and sequence item. Duplicate keys, which PyYAML silently accepts (last one wins), are errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

Loc = tuple[str | int, ...]


@dataclass
class Located:
    data: object
    lines: dict[Loc, int] = field(default_factory=dict)
    problems: list[tuple[int, Loc, str]] = field(default_factory=list)

    def line_of(self, loc: Loc) -> int:
        """Line of the deepest recorded prefix of `loc` (1 for the document itself)."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return self.lines.get((), 1)


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load(text: str) -> Located:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(data=None)
        located = Located(data=None, lines={(): node.start_mark.line + 1})
        _walk(node, (), located)
        located.data = loader.construct_document(node)
        return located
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlSyntaxError(line, message or str(exc)) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, str(exc)) from None
    finally:
        loader.dispose()


def _walk(node: yaml.Node, loc: Loc, out: Located) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                out.problems.append(
                    (line, (*loc, key), f"duplicate key (first set on line {seen[key]})")
                )
            seen[key] = line
            out.lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out.lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), out)
