"""YAML loading that remembers where every value came from.

pydantic reports errors by location (`('network', 'bridge')`); users want `file:line`. We compose
the YAML node tree once, construct plain data from it, and record the line of every mapping key
and sequence item. Duplicate keys, which PyYAML silently accepts (last one wins), are errors.

A profile is a small file that anyone can hand you, so the walk is budgeted: aliases that expand
past MAX_NODES values (a "billion laughs"), an alias inside its own anchor, nesting deeper than
MAX_DEPTH, numbers longer than MAX_DIGITS and strings that are not valid Unicode are refused with
their line, before anything is built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

Loc = tuple[str | int, ...]
MAX_NODES = 20_000
MAX_DEPTH = 64
MAX_DIGITS = 64
_INT_TAG = "tag:yaml.org,2002:int"


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
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # the reader checks the characters here already
        node = loader.get_single_node()
        if node is None:
            return Located(data=None)
        located = Located(data=None, lines={(): node.start_mark.line + 1})
        _Walk(located).walk(node, (), frozenset(), 0)
        located.data = loader.construct_document(node)
        return located
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlSyntaxError(line, message or str(exc)) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, str(exc)) from None
    except RecursionError:
        raise YamlSyntaxError(
            1, f"nested deeper than YAML can read (keep it under {MAX_DEPTH})"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


class _Walk:
    def __init__(self, out: Located) -> None:
        self.out = out
        self.visited = 0

    def walk(self, node: yaml.Node, loc: Loc, path: frozenset[int], depth: int) -> None:
        line = node.start_mark.line + 1
        self.visited += 1
        if self.visited > MAX_NODES:
            raise YamlSyntaxError(
                line,
                f"more than {MAX_NODES} values once YAML aliases are expanded: a profile is "
                "small, so this is an alias bomb or a mistake; use fewer aliases",
            )
        if id(node) in path:
            raise YamlSyntaxError(line, "a YAML alias refers to the value that contains it")
        if depth > MAX_DEPTH:
            raise YamlSyntaxError(line, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.ScalarNode):
            self.scalar(node, loc, line)
            return
        inner = path | {id(node)}
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    self.scalar(key_node, (*loc, key_node.value), key_node.start_mark.line + 1)
                    key: object = key_node.value
                else:
                    key = str(key_node.tag)
                key_line = key_node.start_mark.line + 1
                if key in seen:
                    self.out.problems.append(
                        (key_line, (*loc, key), f"duplicate key (first set on line {seen[key]})")  # type: ignore[arg-type]
                    )
                seen[key] = key_line
                self.out.lines[(*loc, key)] = key_line  # type: ignore[arg-type]
                self.walk(value_node, (*loc, key), inner, depth + 1)  # type: ignore[arg-type]
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.out.lines[(*loc, index)] = item.start_mark.line + 1
                self.walk(item, (*loc, index), inner, depth + 1)

    def scalar(self, node: yaml.ScalarNode, loc: Loc, line: int) -> None:
        value = node.value
        if node.tag == _INT_TAG and len(value) > MAX_DIGITS:
            raise YamlSyntaxError(line, f"a number of {len(value)} digits is too long")
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            self.out.problems.append((line, loc, "not valid Unicode text (a lone surrogate)"))
