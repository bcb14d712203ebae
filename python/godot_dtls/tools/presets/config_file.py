"""A reader for Godot's ConfigFile text format that keeps line numbers.

Godot stores ``project.godot``, ``export_presets.cfg``, ``plugin.cfg`` and the section
headers of ``.tscn``/``.tres`` files in one text format: ``[section]`` headers (text
scenes add ``key=value`` attributes inside the brackets), ``key=value`` lines whose values
are Variant literals (quoted strings with escapes, ``true``, numbers,
``PackedStringArray("4.3")``, arrays and dictionaries that may span lines) and ``;``
comments.

Why not :mod:`configparser`: it neither understands the values nor keeps positions, and
the tools built on this module (``godot-dtls check-presets --fix``) must name the exact
line of a problem and edit exactly that line, leaving every other byte alone. So this
parser records, for every entry, the line where it starts and the line where its value
ends, and reports malformed input as a :class:`ConfigParseError` carrying the line
number instead of guessing.

Values become Python values: ``str``, ``bool``, ``int``, ``float``, ``None``, ``list``,
``dict``; ``&"name"`` and ``^"path"`` become :class:`StringName` / :class:`NodePath`
(``str`` subclasses); every other constructor call, such as ``PackedStringArray(...)``,
``Vector2(1, 2)`` or ``ExtResource("1")``, becomes a :class:`Constructor` with its
parsed arguments and its source text. ``Object(...)`` (used for input events in
``project.godot``) holds property pairs rather than plain arguments, so it is kept as
raw text only.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Union

__all__ = [
    "ConfigDocument",
    "ConfigEntry",
    "ConfigParseError",
    "ConfigSection",
    "Constructor",
    "NodePath",
    "StringName",
    "decode_config_bytes",
    "load_config",
    "parse_config",
    "split_lines",
]

PathLike = Union[str, Path]

#: Constructors whose arguments are ``"property": value`` pairs, not values: kept raw.
_RAW_CONSTRUCTORS = frozenset({"Object"})
#: Containers that may carry a type in brackets, ``Array[int]([1])``; the value is the
#: inner list or dictionary.
_TYPED_CONTAINERS = frozenset({"Array", "Dictionary"})
_NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TAG_KEY = re.compile(r"[A-Za-z0-9_/.\-]+")
#: What the start of a ``key=value`` line or a ``[section]`` header looks like.
_NEW_LINE_START = re.compile(
    r'(?:[A-Za-z_][A-Za-z0-9_/.\-]*|"[^"\n]*")[ \t]*=|\[[^\]\n]*\][ \t]*$', re.MULTILINE
)
_SIMPLE_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
_LITERALS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "nil": None,
    "inf": math.inf,
    "inf_neg": -math.inf,
    "nan": math.nan,
}
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


class ConfigParseError(ValueError):
    """Malformed ConfigFile text, with the 1-based line where the problem is.

    A tool that edits the file must refuse to touch it when this is raised: rewriting a
    file it did not understand could destroy the user's settings.
    """

    def __init__(self, message: str, line: int, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path

    def with_path(self, path: PathLike) -> ConfigParseError:
        """The same error, naming the file it came from (for ``path:line: message``)."""
        return ConfigParseError(self.message, self.line, str(path))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.path is not None else f"line {self.line}"
        return f"{where}: {self.message}"


class StringName(str):
    """A ``&"name"`` literal; a ``str`` so comparisons with plain strings just work."""

    __slots__ = ()


class NodePath(str):
    """A ``^"path"`` literal; a ``str`` so comparisons with plain strings just work."""

    __slots__ = ()


@dataclass(frozen=True)
class Constructor:
    """A constructor call such as ``PackedStringArray("a", "b")`` or ``Vector2(1, 2)``.

    ``args`` holds the parsed arguments (empty when ``parsed`` is false: the call was kept
    as text because its arguments are not plain values) and ``raw`` the exact source text,
    so nothing is lost for a value this module does not model.
    """

    name: str
    args: tuple[Any, ...]
    raw: str
    parsed: bool = True


@dataclass(frozen=True)
class ConfigEntry:
    """One ``key=value`` line (the value may continue over more lines).

    ``value_start``/``value_end`` are offsets of the value's text in the document, so an
    editor can replace just the value and keep the key, spacing and any comment.
    """

    key: str
    value: Any
    line: int
    end_line: int
    raw_value: str
    value_start: int = 0
    value_end: int = 0


@dataclass
class ConfigSection:
    """A ``[name attr=value ...]`` header and the entries under it.

    The entries before the first header form the section named ``""`` with ``line`` 0,
    as in Godot's ConfigFile (``config_version=5`` in ``project.godot`` lives there).
    """

    name: str
    line: int
    attributes: dict[str, Any] = field(default_factory=dict)
    entries: list[ConfigEntry] = field(default_factory=list)

    def entry(self, key: str) -> ConfigEntry | None:
        """The entry for ``key``; the last one if repeated, since the last value wins."""
        for candidate in reversed(self.entries):
            if candidate.key == key:
                return candidate
        return None

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when the section lacks it."""
        found = self.entry(key)
        return default if found is None else found.value

    def keys(self) -> list[str]:
        """The distinct keys, in order of first appearance."""
        return list(dict.fromkeys(entry.key for entry in self.entries))

    @property
    def last_line(self) -> int:
        """The last line that belongs to the header or an entry (not trailing blanks)."""
        return self.entries[-1].end_line if self.entries else self.line

    def __contains__(self, key: object) -> bool:
        return any(entry.key == key for entry in self.entries)

    def __getitem__(self, key: str) -> Any:
        found = self.entry(key)
        if found is None:
            raise KeyError(key)
        return found.value


@dataclass
class ConfigDocument:
    """A parsed file: its sections in file order (a name may repeat, as in ``.tscn``)."""

    sections: list[ConfigSection]
    text: str

    def sections_named(self, name: str) -> list[ConfigSection]:
        """Every section called ``name`` (ConfigFile merges repeats; scenes list nodes)."""
        return [section for section in self.sections if section.name == name]

    def section(self, name: str) -> ConfigSection | None:
        """The first section called ``name``, or ``None``."""
        for section in self.sections:
            if section.name == name:
                return section
        return None

    def find_entry(self, section: str, key: str) -> ConfigEntry | None:
        """The entry that decides ``section``/``key`` for Godot: the last one in the file."""
        for candidate in reversed(self.sections_named(section)):
            found = candidate.entry(key)
            if found is not None:
                return found
        return None

    def get_value(self, section: str, key: str, default: Any = None) -> Any:
        """The value Godot would read for ``section``/``key``, or ``default``."""
        found = self.find_entry(section, key)
        return default if found is None else found.value

    @property
    def section_names(self) -> list[str]:
        """Distinct section names in file order (without the implicit ``""`` section)."""
        return list(dict.fromkeys(s.name for s in self.sections if s.line > 0))

    def __contains__(self, name: object) -> bool:
        return any(section.name == name for section in self.sections)

    def __getitem__(self, name: str) -> ConfigSection:
        found = self.section(name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[ConfigSection]:
        return iter(self.sections)


def split_lines(text: str) -> list[str]:
    """Split after every ``"\\n"``, keeping the endings (``"\\r\\n"`` stays whole).

    Line numbers here and in :class:`ConfigParseError` count ``"\\n"`` only, as Godot's
    reader does; :meth:`str.splitlines` would also split at form feeds and Unicode
    separators and disagree with the parser about which line is which.
    """
    lines = text.split("\n")
    result = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        result.append(lines[-1])
    return result


class _Parser:
    """Recursive-descent parser over the whole text; positions map to lines by bisection."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 1 if text.startswith("\ufeff") else 0
        self.length = len(text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    # -- positions and errors ---------------------------------------------------------

    def line_at(self, pos: int) -> int:
        return bisect.bisect_right(self.line_starts, pos)

    def error(self, message: str, pos: int | None = None) -> ConfigParseError:
        return ConfigParseError(message, self.line_at(self.pos if pos is None else pos))

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < self.length else ""

    def describe(self, pos: int) -> str:
        if pos >= self.length:
            return "end of file"
        char = self.text[pos]
        return "end of line" if char in "\r\n" else repr(char)

    # -- whitespace -------------------------------------------------------------------

    def skip_inline_space(self) -> None:
        while self.pos < self.length and self.text[self.pos] in " \t\r":
            self.pos += 1

    def skip_comment(self) -> None:
        if self.peek() == ";":
            end = self.text.find("\n", self.pos)
            self.pos = self.length if end < 0 else end

    def skip_space(self) -> None:
        """Whitespace, newlines and ``;`` comments (between entries, inside values)."""
        while self.pos < self.length:
            char = self.text[self.pos]
            if char in " \t\r\n":
                self.pos += 1
            elif char == ";":
                self.skip_comment()
            else:
                break

    def expect_line_end(self, what: str) -> None:
        self.skip_inline_space()
        self.skip_comment()
        if self.pos < self.length and self.text[self.pos] != "\n":
            raise self.error(f"unexpected {self.describe(self.pos)} after {what}")

    # -- document ---------------------------------------------------------------------

    def parse_document(self) -> ConfigDocument:
        sections = [ConfigSection(name="", line=0)]
        while True:
            self.skip_space()
            if self.pos >= self.length:
                break
            if self.text[self.pos] == "[":
                sections.append(self.parse_header())
            else:
                sections[-1].entries.append(self.parse_entry())
        return ConfigDocument(sections=sections, text=self.text)

    def parse_header(self) -> ConfigSection:
        start = self.pos
        self.pos += 1
        name_start = self.pos
        while self.pos < self.length and self.text[self.pos] not in " \t\r\n]":
            self.pos += 1
        name = self.text[name_start : self.pos]
        if not name:
            raise self.error("empty section name", start)
        attributes: dict[str, Any] = {}
        while True:
            self.skip_inline_space()
            char = self.peek()
            if char == "]":
                self.pos += 1
                break
            if char in ("", "\n"):
                raise self.error(f"section header [{name} is not closed with ']'", start)
            match = _TAG_KEY.match(self.text, self.pos)
            if match is None:
                raise self.error(f"unexpected {self.describe(self.pos)} in section header")
            key = match.group()
            self.pos = match.end()
            self.skip_inline_space()
            if self.peek() != "=":
                raise self.error(f"expected '=' after {key!r} in section header")
            self.pos += 1
            self.skip_inline_space()
            attributes[key] = self.parse_value()
        self.expect_line_end(f"section header [{name}]")
        return ConfigSection(name=name, line=self.line_at(start), attributes=attributes)

    def parse_entry(self) -> ConfigEntry:
        start = self.pos
        if self.peek() == '"':
            key = self.parse_string()
            self.skip_inline_space()
        else:
            while self.pos < self.length and self.text[self.pos] not in "=\n":
                self.pos += 1
            key = self.text[start : self.pos].strip()
            if not key:
                raise self.error("expected a key before '='", start)
        if self.peek() != "=":
            raise self.error(
                f"expected 'key=value', found {self.text[start : self.pos].strip()!r}", start
            )
        self.pos += 1
        self.skip_inline_space()
        if self.pos >= self.length or self.text[self.pos] in "\n;":
            raise self.error(f"missing value for {key!r}")
        value_start = self.pos
        value = self.parse_value()
        value_end = self.pos
        try:
            self.expect_line_end(f"the value of {key!r}")
        except ConfigParseError as exc:
            first, last = self.line_at(start), self.line_at(value_end)
            if self.text[value_start] != '"' or first == last:
                raise
            # Strings may span lines, so a missing closing quote only shows up where the
            # next quote ends the string early: blame the line where the string began.
            raise ConfigParseError(
                f"the string value of {key!r} runs on to line {last} and is followed by "
                f"{self.describe(self.pos)}: a closing quote is probably missing",
                first,
            ) from exc
        return ConfigEntry(
            key=key,
            value=value,
            line=self.line_at(start),
            end_line=self.line_at(max(value_start, value_end - 1)),
            raw_value=self.text[value_start:value_end],
            value_start=value_start,
            value_end=value_end,
        )

    # -- values -----------------------------------------------------------------------

    def parse_value(self) -> Any:
        char = self.peek()
        if char == '"':
            return self.parse_string()
        if char in "&^" and self.peek(1) == '"':
            self.pos += 1
            text = self.parse_string()
            return StringName(text) if char == "&" else NodePath(text)
        if char == "[":
            return self.parse_array()
        if char == "{":
            return self.parse_dictionary()
        if char == "#":
            return self.parse_color()
        if char == "-" and self.text.startswith("-inf", self.pos):
            match = _IDENTIFIER.match(self.text, self.pos + 1)
            if match is not None and match.group() == "inf":
                self.pos = match.end()
                return -math.inf
        if char and (char.isdigit() or char in "+-."):
            return self.parse_number()
        if _IDENTIFIER.match(self.text, self.pos):
            return self.parse_identifier_value()
        raise self.error(f"expected a value, found {self.describe(self.pos)}")

    def parse_string(self) -> str:
        opening = self.pos
        self.pos += 1
        parts: list[str] = []
        while True:
            if self.pos >= self.length:
                raise self.error("unterminated string (opened here)", opening)
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(parts)
            if char != "\\":
                parts.append(char)
                self.pos += 1
                continue
            escape = self.peek(1)
            if escape in _SIMPLE_ESCAPES:
                parts.append(_SIMPLE_ESCAPES[escape])
                self.pos += 2
            elif escape in ("u", "U"):
                parts.append(self.parse_unicode_escape(escape))
            else:
                raise self.error(f"invalid escape sequence '\\{escape}' in string")

    def parse_unicode_escape(self, escape: str) -> str:
        digits = 4 if escape == "u" else 6
        hex_text = self.text[self.pos + 2 : self.pos + 2 + digits]
        if len(hex_text) != digits or not all(c in "0123456789abcdefABCDEF" for c in hex_text):
            raise self.error(f"'\\{escape}' needs {digits} hexadecimal digits")
        self.pos += 2 + digits
        code = int(hex_text, 16)
        if 0xD800 <= code <= 0xDBFF and self.text.startswith("\\u", self.pos):
            low_text = self.text[self.pos + 2 : self.pos + 6]
            if len(low_text) == 4 and all(c in "0123456789abcdefABCDEF" for c in low_text):
                low = int(low_text, 16)
                if 0xDC00 <= low <= 0xDFFF:
                    self.pos += 6
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        if code > 0x10FFFF:
            raise self.error(f"'\\{escape}{hex_text}' is not a Unicode code point")
        return chr(code)

    def parse_number(self) -> int | float:
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            raise self.error(f"expected a number, found {self.describe(self.pos)}")
        text = match.group()
        self.pos = match.end()
        if self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            raise self.error(f"malformed number {text + self.peek()!r}")
        if text.lstrip("+-").lower().startswith("0x"):
            return int(text, 16)
        if any(c in text for c in ".eE"):
            return float(text)
        return int(text)

    def parse_color(self) -> Constructor:
        start = self.pos
        self.pos += 1
        while self.pos < self.length and self.text[self.pos] in "0123456789abcdefABCDEF":
            self.pos += 1
        if self.pos - start - 1 not in (3, 4, 6, 8):
            raise self.error("malformed '#' color literal", start)
        return Constructor("Color", (), self.text[start : self.pos], parsed=False)

    def parse_identifier_value(self) -> Any:
        start = self.pos
        match = _IDENTIFIER.match(self.text, self.pos)
        assert match is not None  # the caller saw a letter or '_'
        name = match.group()
        self.pos = match.end()
        if name in _LITERALS and self.peek() != "(":
            return _LITERALS[name]
        type_text = ""
        if name in _TYPED_CONTAINERS and self.peek() == "[":
            type_start = self.pos
            self.skip_balanced()
            type_text = self.text[type_start : self.pos]
        self.skip_inline_space()
        if self.peek() != "(":
            raise self.error(
                f"unexpected identifier {name!r} (not a value or a constructor)", start
            )
        if name in _RAW_CONSTRUCTORS:
            self.skip_balanced()
            return Constructor(name, (), self.text[start : self.pos], parsed=False)
        self.pos += 1
        args = self.parse_items(")", f"{name}(")
        raw = self.text[start : self.pos]
        if type_text or (name in _TYPED_CONTAINERS and len(args) == 1):
            if len(args) != 1 or not isinstance(args[0], (list, dict)):
                raise self.error(f"{name}{type_text}(...) needs one array or dictionary", start)
            return args[0]
        return Constructor(name, tuple(args), raw)

    def parse_items(self, closer: str, opened: str) -> list[Any]:
        """Comma-separated values up to ``closer`` (a trailing comma is tolerated)."""
        opening = self.pos - 1
        items: list[Any] = []
        while True:
            self.skip_space()
            if self.pos >= self.length:
                raise self.error(f"'{opened}' is never closed with '{closer}'", opening)
            if self.text[self.pos] == closer:
                self.pos += 1
                return items
            items.append(self.parse_value())
            self.skip_space()
            char = self.peek()
            if char == ",":
                self.pos += 1
            elif char != closer:
                raise self.unclosed_or_unexpected(opened, closer, opening)

    def parse_array(self) -> list[Any]:
        self.pos += 1
        return self.parse_items("]", "[")

    def parse_dictionary(self) -> dict[Any, Any]:
        opening = self.pos
        self.pos += 1
        result: dict[Any, Any] = {}
        while True:
            self.skip_space()
            if self.pos >= self.length:
                raise self.error("'{' is never closed with '}'", opening)
            if self.text[self.pos] == "}":
                self.pos += 1
                return result
            key_pos = self.pos
            key = self.parse_value()
            try:
                hash(key)
            except TypeError:
                raise self.error(
                    "dictionary key is an array or dictionary (not supported)", key_pos
                ) from None
            self.skip_space()
            if self.peek() != ":":
                raise self.error(
                    f"expected ':' after a dictionary key, found {self.describe(self.pos)}"
                )
            self.pos += 1
            self.skip_space()
            result[key] = self.parse_value()
            self.skip_space()
            char = self.peek()
            if char == ",":
                self.pos += 1
            elif char != "}":
                raise self.unclosed_or_unexpected("{", "}", opening)

    def unclosed_or_unexpected(self, opened: str, closer: str, opening: int) -> ConfigParseError:
        """The error for a container followed by neither ',' nor its closer.

        When the next thing is the end of the file or looks like a new ``key=`` line or
        section header, the container was most likely never closed: blame its opening
        line. Otherwise blame the unexpected text where it is.
        """
        if self.pos >= self.length or (
            self.line_at(self.pos) != self.line_at(opening)
            and _NEW_LINE_START.match(self.text, self.pos)
        ):
            return self.error(f"'{opened}' is never closed with '{closer}'", opening)
        return self.error(f"expected ',' or '{closer}', found {self.describe(self.pos)}")

    def skip_balanced(self) -> None:
        """Move past a bracketed span (strings inside are skipped whole); keep it raw."""
        opening = self.pos
        stack: list[str] = []
        while self.pos < self.length:
            char = self.text[self.pos]
            if char == '"':
                self.parse_string()
                continue
            if char in _CLOSERS:
                stack.append(_CLOSERS[char])
            elif char in ")]}":
                if not stack or stack.pop() != char:
                    raise self.error(f"unbalanced {char!r}")
                if not stack:
                    self.pos += 1
                    return
            self.pos += 1
        raise self.error(f"{self.text[opening]!r} is never closed", opening)


def parse_config(text: str) -> ConfigDocument:
    """Parse ConfigFile text; raises :class:`ConfigParseError` (with a line) if malformed."""
    return _Parser(text).parse_document()


def decode_config_bytes(data: bytes) -> str:
    """UTF-8 text of a config file, as Godot writes it; bad bytes are an error with a line.

    Decoding strictly (rather than with replacement characters) is what lets an editing
    tool write unchanged lines back byte for byte.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigParseError(f"not valid UTF-8 ({exc.reason})", line) from None


def load_config(path: PathLike) -> ConfigDocument:
    """Read and parse a file; errors name it (``path:line: message``).

    ``OSError`` (missing or unreadable file) propagates unchanged, so callers can tell a
    file they could not read from one they could not understand.
    """
    data = Path(path).read_bytes()
    try:
        return parse_config(decode_config_bytes(data))
    except ConfigParseError as exc:
        raise exc.with_path(path) from None
