#!/usr/bin/env python3
"""Check the shells' Kotlin and Swift sources with tree-sitter: they parse, and they
implement the generated bindings' protocols with the generated signatures.

There is no Swift toolchain on these machines and the Maven build compiles only the JVM
part of the Android shell, so these are the checks every `.kt`, `.kts` and `.swift` file
gets:

1. it parses with the pinned tree-sitter grammars (scripts/requirements-check.txt) and
   contains no syntax error;
2. each hand-written type that declares conformance to a protocol of the generated Swift
   (`PlatformKeystore`, `Transport`, `LogSink`, `AuthenticatorProtocol`), or implements an
   interface of the generated Kotlin or of the JVM module (`KeystoreAdapter`,
   `BiometricPrompter`), implements every requirement with the same name, argument labels,
   parameter and return types, `throws` and `async` — see "conformance" below;
3. the SwiftUI app's `RootView` renders every case of the generated `Screen` enum (the
   app model's screens, docs/SCREENS.md) — see "screen coverage" below.

    check-sources.py [PATH ...] [--generated DIR ...] [--bindings DIR ...]
                                                   # default PATHs: android/ ios/
    check-sources.py --self-test

Generated bindings are parse-checked, and checked against, when their folder is named with
`--generated` or in $LATCHKEY_GENERATED_SOURCES (folders separated by ':'); `--bindings`
names a folder of bindings that is only checked against (the generated Kotlin, which the
grammar misreads in places and Maven compiles anyway). Without bindings the conformance
check has nothing to compare with and is skipped. Below every folder, build output
(`target`, `build`, `.build`, ...) and hidden folders are skipped; a folder named
explicitly is always walked. Finding no source at all is an error.

The grammars reject a few constructs that Kotlin and Swift accept. Exactly these are
neutralised before parsing, keeping every line where it was (see `normalise_kotlin` and
`normalise_swift`), and the self-test proves that each still trips the pinned grammar, that
a broken file fails regardless, and that a non-conforming shell type fails.

Exit status: 0 when every check passes, 1 when any check reports a problem, 2 on usage
errors. The last line is `check-sources: N passed, N failed` (files, or self-test cases).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOTS = ("android", "ios")
GENERATED_ENV = "LATCHKEY_GENERATED_SOURCES"

LANGUAGE_BY_SUFFIX = {".kt": "kotlin", ".kts": "kotlin", ".swift": "swift"}

# Folders that hold build output, tool state or copies, never hand-written sources.
SKIPPED_DIRS = {"target", "build", ".build", ".gradle", ".swiftpm", "DerivedData", "node_modules"}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    language: str
    text: str


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int  # 1-based
    end_line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.line}" if self.end_line == self.line else f"{self.line}-{self.end_line}"
        return f"{display(self.path)}:{where}: {self.message}"


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# --- finding the sources --------------------------------------------------------------


def source_paths(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if Path(name).suffix in LANGUAGE_BY_SUFFIX:
                yield Path(dirpath) / name


def load_sources(roots: Iterable[Path]) -> list[SourceFile]:
    sources = []
    for root in roots:
        for path in source_paths(root):
            language = LANGUAGE_BY_SUFFIX.get(path.suffix)
            if language is not None:
                text = path.read_text(encoding="utf-8")
                sources.append(SourceFile(path, language, text))
    return sources


# --- neutralising the grammars' known false positives ---------------------------------
#
# Each rule keeps the line count and touches only the construct it names; anything else
# wrong on the same lines still fails the parse.

SWIFT_IF = re.compile(r"^\s*#if\s+(.*?)\s*(//.*)?$")
SWIFT_ELSE = re.compile(r"^\s*#(elseif|else)\b")
SWIFT_ENDIF = re.compile(r"^\s*#endif\b")
SWIFT_DOCUMENTATION_ATTRIBUTE = re.compile(r"^\s*@_documentation\([^()]*\)\s*$")
SWIFT_EMPTY_TUPLE_CLOSURE = re.compile(r"^(\s*let\s+\w+\s*=\s*)\{ \(\) \}(\s*)$")


def normalise_swift(text: str) -> str:
    """Neutralise two constructs tree-sitter-swift rejects, keeping every line in place.

    1. `@_documentation(...)` attribute lines inside `#if swift(>=5.8)` blocks are blanked.
       UniFFI's generated Swift wraps an attribute in `#if swift(>=5.8) ... #endif` before
       many declarations; tree-sitter-swift cannot parse an attribute inside a conditional
       block that is followed by the declaration outside it. The attribute only hides the
       declaration from documentation, so removing it changes nothing the parse checks.
    2. `let name = { () }`, a closure returning the empty tuple (UniFFI's `writeReturn` for
       foreign methods that return nothing), becomes `let name = { }`, the same closure
       written without the `()` the grammar cannot read as an expression.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if m := SWIFT_EMPTY_TUPLE_CLOSURE.match(line):
            lines[i] = f"{m.group(1)}{{ }}{m.group(2)}"
    conditions: list[str] = []
    for i, line in enumerate(lines):
        if m := SWIFT_IF.match(line):
            conditions.append(re.sub(r"\s+", "", m.group(1)))
        elif SWIFT_ELSE.match(line):
            if conditions:
                conditions[-1] = "#else"
        elif SWIFT_ENDIF.match(line):
            if conditions:
                conditions.pop()
        elif conditions and conditions[-1] == "swift(>=5.8)" and SWIFT_DOCUMENTATION_ATTRIBUTE.match(line):
            lines[i] = ""
    return "\n".join(lines)


def mask_kotlin(text: str) -> str:
    """`text` with comments, strings, character literals and the insides of backquoted
    names (`` `it's a test` ``) turned into spaces.

    Newlines are kept, so offsets and lines match `text`; what is left is code only.
    """
    out = list(text)
    n = len(text)
    i = 0

    def blank(start: int, end: int) -> None:
        for k in range(start, min(end, n)):
            if out[k] != "\n":
                out[k] = " "

    def skip_string(i: int) -> int:
        """From an opening quote at i, the index just past the closing quote."""
        raw = text.startswith('"""', i)
        i += 3 if raw else 1
        while i < n:
            c = text[i]
            if raw and text.startswith('"""', i):
                i += 3
                while i < n and text[i] == '"':  # `""""` ends with the last three quotes
                    i += 1
                return i
            if not raw and c == '"':
                return i + 1
            if not raw and c == "\\":
                i += 2
            elif text.startswith("${", i):
                i = skip_code_block(i + 1)
            else:
                i += 1
        return n

    def skip_code_block(i: int) -> int:
        """From a `{` at i (a string template), the index just past its matching `}`."""
        depth = 0
        while i < n:
            if text.startswith("//", i) or text.startswith("/*", i):
                i = skip_comment(i)
                continue
            c = text[i]
            if c == '"':
                i = skip_string(i)
                continue
            if c == "'":
                i = skip_char(i)
                continue
            if c == "`":
                i = skip_backquoted(i)
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return n

    def skip_comment(i: int) -> int:
        if text.startswith("//", i):
            end = text.find("\n", i)
            return n if end < 0 else end
        depth = 0  # Kotlin block comments nest
        while i < n:
            if text.startswith("/*", i):
                depth += 1
                i += 2
            elif text.startswith("*/", i):
                depth -= 1
                i += 2
                if depth == 0:
                    return i
            else:
                i += 1
        return n

    def skip_char(i: int) -> int:
        j = i + 1
        if j < n and text[j] == "\\":
            j += 2
        else:
            j += 1
        end = text.find("'", j)
        if end < 0 or "\n" in text[j:end]:
            return i + 1  # not a character literal; leave it to the parser
        return end + 1

    def skip_backquoted(i: int) -> int:
        end = text.find("`", i + 1)
        if end < 0 or "\n" in text[i:end]:
            return i + 1
        return end + 1

    while i < n:
        if text.startswith("//", i) or text.startswith("/*", i):
            end = skip_comment(i)
        elif text[i] == '"':
            end = skip_string(i)
        elif text[i] == "'":
            end = skip_char(i)
        elif text[i] == "`":
            end = skip_backquoted(i)
        else:
            i += 1
            continue
        blank(i, end)
        i = end
    return "".join(out)


KOTLIN_SUSPEND_LAMBDA = re.compile(r"(?<![\w.])suspend(?=[ \t]*\{[ \t]*->)")
KOTLIN_CLASS_HEADER = re.compile(r"(?<![\w.:@])(class|object|interface)\b")


def normalise_kotlin(text: str) -> str:
    """Neutralise two constructs tree-sitter-kotlin rejects, keeping every line in place.

    1. `suspend { -> ... }`, the stdlib `suspend` function applied to a lambda (UniFFI's
       generated callback code for async methods): the grammar takes `suspend` for a
       modifier. The word `suspend` becomes spaces; the lambda is parsed as it stands.
    2. One-line class bodies such as `class A : B { fun f(): Int { return 1 } }`: the
       grammar wants a newline or `;` between a class body's last member and its `}`.
       Where a class, object or interface body opens and closes on one line, a `;` goes
       before its `}` (replacing a space when there is one), which Kotlin allows anyway.

    Only code is looked at: comments, strings and character literals are skipped.
    """
    masked = mask_kotlin(text)
    chars = list(text)
    for m in KOTLIN_SUSPEND_LAMBDA.finditer(masked):
        chars[m.start() : m.end()] = " " * (m.end() - m.start())
    text = "".join(chars)

    lines = text.split("\n")
    masked_lines = masked.split("\n")
    for number, masked_line in enumerate(masked_lines):
        inserts = one_line_class_body_closers(masked_line)
        if not inserts:
            continue
        line = list(lines[number])
        for close in reversed(inserts):
            if close > 0 and line[close - 1] == " ":
                line[close - 1] = ";"
            else:
                line.insert(close, ";")
        lines[number] = "".join(line)
    return "\n".join(lines)


def one_line_class_body_closers(masked_line: str) -> list[int]:
    """Columns of each `}` that closes a class body opened on the same (masked) line and
    whose last member is not already followed by `;`."""
    closers = []
    opened: list[tuple[int, bool]] = []  # (column of `{`, opens a class body)
    segment_start = 0
    for col, c in enumerate(masked_line):
        if c == "{":
            header = masked_line[segment_start:col]
            opened.append((col, bool(KOTLIN_CLASS_HEADER.search(header))))
            segment_start = col + 1
        elif c == "}":
            if opened:
                _, is_class_body = opened.pop()
                before = masked_line[:col].rstrip()
                if is_class_body and before and before[-1] not in "{;":
                    closers.append(col)
            segment_start = col + 1
        elif c == ";":
            segment_start = col + 1
    return closers


NORMALISERS: dict[str, Callable[[str], str]] = {"kotlin": normalise_kotlin, "swift": normalise_swift}


# --- parsing --------------------------------------------------------------------------


@cache
def parser_for(language: str):
    from tree_sitter import Language, Parser

    if language == "kotlin":
        import tree_sitter_kotlin as grammar
    elif language == "swift":
        import tree_sitter_swift as grammar
    else:
        raise ValueError(f"no grammar for {language}")
    return Parser(Language(grammar.language()))


def syntax_errors(language: str, text: str, path: Path) -> list[Problem]:
    """Every ERROR and MISSING node of the parse of `text`, outermost first."""
    tree = parser_for(language).parse(text.encode("utf-8"))
    if not tree.root_node.has_error:
        return []
    problems = []
    lines = text.split("\n")

    def near(line: int) -> str:
        snippet = lines[line - 1].strip() if line <= len(lines) else ""
        return snippet if len(snippet) <= 80 else snippet[:77] + "..."

    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        start = node.start_point[0] + 1
        # A node ending at column 0 ends with the previous line's newline.
        end = max(start, node.end_point[0] + (1 if node.end_point[1] > 0 else 0))
        if node.is_missing:
            problems.append(Problem(path, start, start, f"missing {node.type!r}"))
        elif node.is_error:
            problems.append(Problem(path, start, end, f"syntax error near: {near(start)}"))
        elif node.has_error:
            flawed = [c for c in node.children if c.has_error or c.is_error or c.is_missing]
            if flawed:
                stack.extend(reversed(flawed))
            else:
                # The missing token is a hidden grammar node (`children` does not list it),
                # e.g. a member separator; it sits at the end of this node.
                problems.append(Problem(path, end, end, f"missing token in {node.type} near: {near(end)}"))
    return sorted(set(problems), key=lambda p: (p.line, p.end_line, p.message))


def check_parses(sources: list[SourceFile]) -> list[Problem]:
    """Each file parses without error once the grammars' known false positives are blanked."""
    problems = []
    for source in sources:
        normalised = NORMALISERS[source.language](source.text)
        problems.extend(syntax_errors(source.language, normalised, source.path))
    return problems


# --- conformance of the hand-written shells to the generated API ----------------------
#
# There is no Swift compiler here, and the Android-only Kotlin is not compiled either, so a
# shell class whose method drifted from the generated protocol (a renamed argument label, a
# `Data` that became `[UInt8]`, a `throws` added to a method that must not throw) would only
# be found on a Mac or in Android Studio. This check reads both sides with tree-sitter:
#
# Swift: every protocol the generated bindings declare (`PlatformKeystore`, `Transport`,
# `LogSink`, `AuthenticatorProtocol`) against every hand-written type that declares
# conformance to it (on the type or an extension, across the files of one target folder):
#   - each requirement has a method with the same name and argument labels, the same
#     parameter types and return type (module qualifiers and whitespace aside), no `throws`
#     where the requirement has none (a non-throwing witness of a throwing requirement is
#     fine, as in Swift), the same `async`;
#   - a public type's witnesses are public (or in a public extension);
#   - the protocols are `AnyObject, Sendable`: the type is a class, and `final` with no
#     stored `var` unless it says `@unchecked Sendable` (NOTES-uniffi.md);
#   - each foreign-trait protocol (the generated `<Name>Impl` class marks one) has at least
#     one conforming type outside the tests.
# Kotlin: every interface of the generated Kotlin and of the hand-written Kotlin (the JVM
# module's `KeystoreAdapter`, `BiometricPrompter`) against every class or object that lists
# it among its supertypes: each abstract member has an `override` with the same name,
# parameter types and return type; each foreign-trait interface has a conformer outside the
# tests. Types that delegate an interface (`: X by x`) or are abstract are left out.

UNIFFI_MARKER = "autogenerated by some hot garbage in the `uniffi` crate"
TEST_DIRS = {"Tests", "test", "tests", "androidTest"}


@dataclass(frozen=True)
class Signature:
    """One function: a requirement of a protocol/interface or a member of a type."""

    name: str
    labels: tuple[str, ...]  # Swift argument labels (`_` for none); Kotlin parameter names
    params: tuple[str, ...]  # normalised parameter types
    returns: str  # normalised return type; "" for Void/Unit
    throws: bool
    is_async: bool
    public: bool  # declared public/open, or in a public extension
    override: bool  # Kotlin `override`
    is_property: bool  # Kotlin `val`/`var` member
    line: int
    abstract: bool = False  # Kotlin: no body or initialiser (an interface's requirement)

    def show(self, language: str) -> str:
        if self.is_property:
            return f"val {self.name}: {self.returns}"
        if language == "swift":
            return f"{self.name}({''.join(label + ':' for label in self.labels)})"
        return f"{self.name}({', '.join(self.params)})"


@dataclass
class Declaration:
    """A type declaration (or Swift extension) and what it conforms to."""

    language: str
    name: str
    kind: str  # class, struct, enum, actor, extension, object, interface
    path: Path
    line: int
    module: str
    conforms: list[str]
    members: list[Signature]
    final: bool = False
    public: bool = False
    unchecked_sendable: bool = False
    abstract: bool = False
    mutable_stored: list[tuple[str, int]] | None = None


@dataclass
class Contract:
    """A generated protocol / interface (or a hand-written Kotlin interface)."""

    language: str
    name: str
    path: Path
    inherits: set[str]
    requirements: list[Signature]
    foreign: bool = False


def strip_ticks(name: str) -> str:
    return name.replace("`", "")


def swift_type(text: str) -> str:
    text = re.sub(r"\bany\s+", "", text)
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"\b(?:Swift|Foundation|LatchkeyFFI)\.", "", text)
    return "" if text in ("Void", "()") else text


def kotlin_type(text: str) -> str:
    text = re.sub(r"\s+", "", strip_ticks(text))
    text = re.sub(r"\b(?:kotlin\.collections|kotlin|dev\.latchkey\.ffi|dev\.latchkey\.shell)\.", "", text)
    return "" if text == "Unit" else text


def _text(node) -> str:
    return node.text.decode("utf-8")


def _line(node) -> int:
    return node.start_point[0] + 1


def _child_types(node) -> list[str]:
    return [c.type for c in node.children]


def _modifiers(node) -> str:
    # Modifiers come wrapped in `modifiers`, or (Swift declarations inside a function body)
    # as bare `…_modifier` children.
    mods = [c for c in node.children if c.type == "modifiers" or c.type.endswith("_modifier")]
    return " ".join(_text(m) for m in mods)


def _is_public(node) -> bool:
    return bool(re.search(r"\b(public|open)\b(?!\s*\()", _modifiers(node)))


def _swift_function(node, in_public_extension: bool) -> Signature | None:
    children = node.children
    name = next((c for c in children if c.type == "simple_identifier"), None)
    if name is None:
        return None
    labels, params = [], []
    for c in children:
        if c.type != "parameter":
            continue
        before, after, seen_colon = [], [], False
        for part in c.children:
            if part.type == ":" and not seen_colon:
                seen_colon = True
            elif seen_colon:
                after.append(_text(part))
            elif part.type == "simple_identifier":
                before.append(_text(part))
        labels.append(strip_ticks(before[0]) if before else "_")
        params.append(swift_type(" ".join(after)))
    returns = ""
    types = _child_types(node)
    if "->" in types:
        after_arrow = children[types.index("->") + 1]
        returns = swift_type(_text(after_arrow))
    return Signature(
        name=strip_ticks(_text(name)),
        labels=tuple(labels),
        params=tuple(params),
        returns=returns,
        throws=any(c.type == "throws" for c in children),
        is_async=any(c.type == "async" for c in children),
        public=_is_public(node) or in_public_extension,
        override=False,
        is_property=False,
        line=_line(node),
    )


def _walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def module_of(path: Path) -> str:
    """Swift: a target is a folder; Kotlin: one compilation unit per Gradle/Maven module is
    approximated by the whole tree (names are package-qualified in practice)."""
    return str(path.parent)


def is_test_path(path: Path) -> bool:
    return any(part in TEST_DIRS for part in path.parts)


def swift_declarations(source: SourceFile) -> tuple[list[Declaration], list[Contract]]:
    tree = parser_for("swift").parse(normalise_swift(source.text).encode("utf-8"))
    declarations, contracts = [], []
    for node in _walk(tree.root_node):
        if node.type == "protocol_declaration":
            name = node.child_by_field_name("name")
            body = node.child_by_field_name("body")
            if name is None or body is None:
                continue
            inherits = {swift_type(_text(c)) for c in node.children if c.type == "inheritance_specifier"}
            requirements = [
                sig for c in body.children if c.type == "protocol_function_declaration"
                for sig in [_swift_function(c, False)] if sig is not None
            ]
            contracts.append(Contract("swift", _text(name), source.path, inherits, requirements))
        elif node.type == "class_declaration":
            kind_node = node.child_by_field_name("declaration_kind")
            name = node.child_by_field_name("name")
            body = node.child_by_field_name("body")
            if kind_node is None or name is None:
                continue
            kind = _text(kind_node)
            public = _is_public(node)
            members, mutable = [], []
            for c in body.children if body is not None else []:
                if c.type == "function_declaration":
                    sig = _swift_function(c, kind == "extension" and public)
                    if sig is not None:
                        members.append(sig)
                elif c.type == "property_declaration":
                    binding = next((b for b in c.children if b.type == "value_binding_pattern"), None)
                    mods = _modifiers(c)
                    computed = any(b.type == "computed_property" for b in c.children)
                    if (binding is not None and _text(binding).startswith("var") and not computed
                            and not re.search(r"\b(static|class)\b", mods)):
                        pattern = next((b for b in c.children if b.type == "pattern"), None)
                        mutable.append((_text(pattern) if pattern is not None else "?", _line(c)))
            declarations.append(Declaration(
                language="swift",
                name=swift_type(_text(name)),
                kind=kind,
                path=source.path,
                line=_line(node),
                module=module_of(source.path),
                conforms=[swift_type(_text(c)) for c in node.children if c.type == "inheritance_specifier"],
                members=members,
                final=bool(re.search(r"\bfinal\b", _modifiers(node))),
                public=public,
                unchecked_sendable=any(c.type == "attribute" and _text(c) == "@unchecked" for c in node.children),
                mutable_stored=mutable,
            ))
    return declarations, contracts


def _kotlin_function(node) -> Signature | None:
    name = node.child_by_field_name("name") or next((c for c in node.children if c.type == "identifier"), None)
    if name is None:
        return None
    names, params = [], []
    values = next((c for c in node.children if c.type == "function_value_parameters"), None)
    for c in values.children if values is not None else []:
        if c.type == "parameter":
            ident = next((p for p in c.children if p.type in ("identifier", "simple_identifier")), None)
            names.append(strip_ticks(_text(ident)) if ident is not None else "?")
            kind = [p for p in c.children if p.type not in ("identifier", "simple_identifier", ":")]
            params.append(kotlin_type(" ".join(_text(p) for p in kind)))
    returns = ""
    types = _child_types(node)
    if values is not None:
        after = node.children[node.children.index(values) + 1:]
        if after and after[0].type == ":" and len(after) > 1:
            returns = kotlin_type(_text(after[1]))
    mods = _modifiers(node)
    return Signature(
        name=strip_ticks(_text(name)),
        labels=tuple(names),
        params=tuple(params),
        returns=returns,
        throws=False,
        is_async="suspend" in mods,
        public=not re.search(r"\b(private|internal|protected)\b", mods),
        override=bool(re.search(r"\boverride\b", mods)),
        is_property=False,
        line=_line(node),
        abstract="function_body" not in types,
    )


def _kotlin_property(node) -> Signature | None:
    variable = next((c for c in node.children if c.type == "variable_declaration"), None)
    ident = None
    type_text = ""
    if variable is not None:
        ident = next((c for c in variable.children if c.type in ("identifier", "simple_identifier")), None)
        typed = [c for c in variable.children if c.type not in ("identifier", "simple_identifier", ":")]
        type_text = " ".join(_text(c) for c in typed)
    elif node.type == "class_parameter":
        ident = next((c for c in node.children if c.type in ("identifier", "simple_identifier")), None)
        types = _child_types(node)
        if ":" in types:
            type_text = _text(node.children[types.index(":") + 1])
    if ident is None:
        return None
    mods = _modifiers(node)
    concrete = node.type == "class_parameter" or any(
        c.type in ("=", "getter", "property_delegate") for c in node.children)
    return Signature(
        name=strip_ticks(_text(ident)),
        labels=(),
        params=(),
        returns=kotlin_type(type_text),
        throws=False,
        is_async=False,
        public=not re.search(r"\b(private|internal|protected)\b", mods),
        override=bool(re.search(r"\boverride\b", mods)),
        is_property=True,
        line=_line(node),
        abstract=not concrete,
    )


def kotlin_declarations(source: SourceFile) -> tuple[list[Declaration], list[Contract]]:
    tree = parser_for("kotlin").parse(normalise_kotlin(source.text).encode("utf-8"))
    declarations, contracts = [], []
    for node in _walk(tree.root_node):
        if node.type not in ("class_declaration", "object_declaration"):
            continue
        name = node.child_by_field_name("name") or next((c for c in node.children if c.type == "identifier"), None)
        if name is None:
            continue
        body = next((c for c in node.children if c.type in ("class_body", "enum_class_body")), None)
        members = []
        for c in body.children if body is not None else []:
            sig = None
            if c.type == "function_declaration":
                sig = _kotlin_function(c)
            elif c.type == "property_declaration":
                sig = _kotlin_property(c)
            if sig is not None:
                members.append(sig)
        constructor = next((c for c in node.children if c.type == "primary_constructor"), None)
        if constructor is not None:
            for c in _walk(constructor):
                if c.type == "class_parameter" and re.search(r"\boverride\b", _modifiers(c)):
                    sig = _kotlin_property(c)
                    if sig is not None:
                        members.append(sig)
        is_interface = any(c.type == "interface" for c in node.children)
        if is_interface:
            # Abstract members (no body, no initialiser) are the requirements.
            requirements = [m for m in members if m.abstract]
            contracts.append(Contract("kotlin", strip_ticks(_text(name)), source.path, set(), requirements))
            continue
        conforms = []
        delegation = next((c for c in node.children if c.type == "delegation_specifiers"), None)
        for spec in delegation.children if delegation is not None else []:
            if spec.type != "delegation_specifier":
                continue
            direct = [c for c in spec.children if c.type == "user_type"]
            if direct and not any(c.type == "explicit_delegation" for c in spec.children):
                conforms.append(kotlin_type(_text(direct[0])).split("<")[0].split(".")[-1])
        declarations.append(Declaration(
            language="kotlin",
            name=strip_ticks(_text(name)),
            kind="object" if node.type == "object_declaration" else "class",
            path=source.path,
            line=_line(node),
            module="kotlin",
            conforms=conforms,
            members=members,
            abstract=bool(re.search(r"\babstract\b", _modifiers(node))),
        ))
    return declarations, contracts


def _same_swift_signature(requirement: Signature, member: Signature) -> list[str]:
    wrong = []
    if member.params != requirement.params:
        wrong.append(f"parameter types ({', '.join(member.params)}) differ from ({', '.join(requirement.params)})")
    if member.returns != requirement.returns:
        wrong.append(f"returns {member.returns or 'Void'} instead of {requirement.returns or 'Void'}")
    if member.throws and not requirement.throws:
        wrong.append("throws where the requirement does not")
    if member.is_async != requirement.is_async:
        wrong.append("async" if member.is_async else "is not async")
    return wrong


def check_swift_conformance(hand: list[Declaration], contracts: dict[str, Contract]) -> list[Problem]:
    problems = []
    groups: dict[tuple[str, str], list[Declaration]] = {}
    for decl in hand:
        groups.setdefault((decl.module, decl.name), []).append(decl)
    conformers: dict[str, list[Declaration]] = {}
    for decls in groups.values():
        primary = next((d for d in decls if d.kind != "extension"), None)
        members = [m for d in decls for m in d.members]
        for decl in decls:
            for protocol in decl.conforms:
                contract = contracts.get(protocol)
                if contract is None:
                    continue
                conformers.setdefault(protocol, []).append(decl)
                where = lambda line, text: problems.append(Problem(decl.path, line, line, text))  # noqa: E731
                name = decl.name
                if primary is not None and "AnyObject" in contract.inherits and primary.kind != "class":
                    where(primary.line, f"{name} is a {primary.kind}: {protocol} is class-only (AnyObject)")
                if primary is not None and primary.kind == "class" and "Sendable" in contract.inherits \
                        and not any(d.unchecked_sendable for d in decls):
                    if not primary.final:
                        where(primary.line, f"{name} must be final (or @unchecked Sendable): {protocol} is Sendable")
                    for var, line in primary.mutable_stored or []:
                        where(line, f"{name}.{var} is a stored var: {protocol} is Sendable "
                                    f"(make it a let, or declare {name} @unchecked Sendable and guard it)")
                type_public = (primary.public if primary is not None else False) or decl.public
                for requirement in contract.requirements:
                    named = [m for m in members if m.name == requirement.name]
                    member = next((m for m in named if m.labels == requirement.labels), None)
                    if member is None:
                        found = "; has " + ", ".join(m.show("swift") for m in named) if named else ""
                        where(decl.line, f"{name} does not implement {protocol}.{requirement.show('swift')}{found}")
                        continue
                    for wrong in _same_swift_signature(requirement, member):
                        where(member.line, f"{name}.{member.show('swift')} ({protocol}): {wrong}")
                    if type_public and not member.public:
                        where(member.line, f"{name}.{member.show('swift')} must be public: {name} is public "
                                           f"and {protocol} is a public protocol")
    return problems + required_conformers("swift", hand, contracts, conformers)


def check_kotlin_conformance(hand: list[Declaration], contracts: dict[str, Contract]) -> list[Problem]:
    problems = []
    conformers: dict[str, list[Declaration]] = {}
    for decl in hand:
        for interface in decl.conforms:
            contract = contracts.get(interface)
            if contract is None or decl.abstract:
                continue
            conformers.setdefault(interface, []).append(decl)
            for requirement in contract.requirements:
                named = [m for m in decl.members if m.name == requirement.name and m.is_property == requirement.is_property]
                member = next((m for m in named if m.params == requirement.params), None)
                line = decl.line
                if member is None:
                    found = "; has " + ", ".join(m.show("kotlin") for m in named) if named else ""
                    problems.append(Problem(decl.path, line, line, f"{decl.name} does not implement "
                                                                   f"{interface}.{requirement.show('kotlin')}{found}"))
                    continue
                if member.returns != requirement.returns:
                    problems.append(Problem(decl.path, member.line, member.line,
                                            f"{decl.name}.{member.show('kotlin')} ({interface}): returns "
                                            f"{member.returns or 'Unit'} instead of {requirement.returns or 'Unit'}"))
                if not member.override:
                    problems.append(Problem(decl.path, member.line, member.line,
                                            f"{decl.name}.{member.show('kotlin')} implements {interface} "
                                            f"without `override`"))
    return problems + required_conformers("kotlin", hand, contracts, conformers)


def required_conformers(language, hand, contracts, conformers) -> list[Problem]:
    """Each foreign-trait contract has a hand-written conformer outside the tests."""
    problems = []
    for name, contract in sorted(contracts.items()):
        if contract.foreign and not any(not is_test_path(d.path) for d in conformers.get(name, [])):
            problems.append(Problem(contract.path, 1, 1, f"no hand-written {language} type outside the tests "
                                                         f"implements {name}"))
    return problems


def is_generated(source: SourceFile) -> bool:
    return UNIFFI_MARKER in source.text[:500]


def check_conformance(sources: list[SourceFile], bindings: list[SourceFile]) -> tuple[list[Problem], str]:
    """Both languages; returns the problems and a one-line summary."""
    problems, summary = [], []
    binding_paths = {s.path.resolve() for s in bindings}
    generated = bindings + [s for s in sources if is_generated(s) and s.path.resolve() not in binding_paths]
    generated_paths = {s.path.resolve() for s in generated}
    hand = [s for s in sources if s.path.resolve() not in generated_paths]
    for language, extract, check in (("swift", swift_declarations, check_swift_conformance),
                                     ("kotlin", kotlin_declarations, check_kotlin_conformance)):
        contracts: dict[str, Contract] = {}
        impls: set[str] = set()
        for source in generated:
            if source.language != language:
                continue
            decls, found = extract(source)
            for contract in found:
                contracts[contract.name] = contract
            impls |= {d.name for d in decls if d.name.endswith("Impl")}
        if not contracts:
            continue  # no bindings of this language given: nothing to check against
        for contract in contracts.values():
            contract.foreign = contract.name + "Impl" in impls
        hand_decls = []
        for source in hand:
            if source.language != language:
                continue
            decls, found = extract(source)
            hand_decls += decls
            if language == "kotlin":
                # The JVM module's own interfaces (KeystoreAdapter, BiometricPrompter).
                for contract in found:
                    contracts.setdefault(contract.name, contract)
        checked = [d for d in hand_decls if any(c in contracts for c in d.conforms)]
        problems += check(hand_decls, contracts)
        summary.append(f"{language}: {len(checked)} declarations against {len(contracts)} contracts")
    return problems, "; ".join(summary)


# --- screen coverage -------------------------------------------------------------------
#
# The app model (docs/SCREENS.md) owns the screens; the SwiftUI app's `RootView`
# (ios/App/Latchkey/RootView.swift) renders each case of the generated `Screen` enum. A
# screen added to the model and forgotten in the app would only show up on a Mac (a
# non-exhaustive switch), so: every hand-written Swift file declaring `struct RootView` has
# a `case .<name>` for each case of the generated Swift's `public enum Screen`.

def generated_enum_cases(text: str, name: str) -> list[str] | None:
    """The case names of the generated Swift `public enum <name>`, or None if absent."""
    found = re.search(r"^public enum " + re.escape(name) + r"\b[^{]*\{(.*?)^\}", text, re.S | re.M)
    if found is None:
        return None
    return re.findall(r"^\s*case\s+`?(\w+)", found.group(1), re.M)


def check_screen_coverage(sources: list[SourceFile], bindings: list[SourceFile]) -> list[Problem]:
    cases = None
    for source in bindings + [s for s in sources if is_generated(s)]:
        if source.language == "swift":
            cases = generated_enum_cases(source.text, "Screen")
            if cases:
                break
    if not cases:
        return []
    problems = []
    for source in sources:
        if source.language != "swift" or is_generated(source):
            continue
        root = re.search(r"^[ \t]*(?:public |internal )?struct RootView\b", source.text, re.M)
        if root is None:
            continue
        line = source.text.count("\n", 0, root.start()) + 1
        for case in cases:
            if not re.search(r"\bcase\s+\." + case + r"\b", source.text):
                problems.append(Problem(source.path, line, line, f"RootView does not render Screen.{case}"))
    return problems


def run_checks(roots: list[Path], bindings: list[Path] | None = None) -> tuple[list[SourceFile], list[Problem], str]:
    """Parses `roots`, then checks their hand-written types against the contracts found in
    `bindings` (and in generated files among `roots`). Returns the sources, the problems and
    what the conformance check covered."""
    sources = load_sources(roots)
    binding_sources = load_sources(bindings or [])
    problems = check_parses(sources)
    conformance, summary = check_conformance(sources, binding_sources)
    coverage = check_screen_coverage(sources, binding_sources)
    return sources, problems + conformance + coverage, summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: android/ ios/)")
    parser.add_argument("--generated", action="append", type=Path, default=[], metavar="DIR",
                        help=f"a folder of generated bindings to parse-check and to check the shells "
                             f"against (or ${GENERATED_ENV})")
    parser.add_argument("--bindings", action="append", type=Path, default=[], metavar="DIR",
                        help="a folder of generated bindings to check the shells against, not parsed "
                             "for errors itself (the generated Kotlin, which Maven compiles)")
    parser.add_argument("--self-test", action="store_true", help="prove the checker fails on broken sources")
    args = parser.parse_args(argv)

    if args.self_test:
        return self_test()

    roots = args.paths or [REPO_ROOT / name for name in DEFAULT_ROOTS]
    generated = args.generated + [Path(p) for p in os.environ.get(GENERATED_ENV, "").split(os.pathsep) if p]
    roots += generated
    bindings = generated + args.bindings
    missing = [root for root in roots + bindings if not root.exists()]
    if missing:
        for root in missing:
            print(f"check-sources: {root}: no such file or folder", file=sys.stderr)
        return 2

    sources, problems, summary = run_checks(roots, bindings)
    if summary:
        print(f"check-sources: conformance checked ({summary})")
    elif bindings:
        print("check-sources: conformance: no protocols or interfaces found in " + ", ".join(map(display, bindings)))
        problems.append(Problem(bindings[0], 1, 1, "no generated protocols or interfaces to check against"))
    for problem in problems:
        print(problem)
    if not sources:
        print("check-sources: no Kotlin or Swift sources under " + ", ".join(map(display, roots)))
        print("check-sources: 0 passed, 1 failed")
        return 1
    # Files with a problem fail; a problem outside them (a contract nobody implements)
    # counts once per file it names.
    checked = {s.path for s in sources}
    failed_sources = {p.path for p in problems if p.path in checked}
    failed_elsewhere = {p.path for p in problems if p.path not in checked}
    passed = len(sources) - len(failed_sources)
    print(f"check-sources: {passed} passed, {len(failed_sources) + len(failed_elsewhere)} failed")
    return 1 if problems else 0


# --- self-test ------------------------------------------------------------------------

VALID_SWIFT = """\
import Foundation

#if swift(>=5.8)
@_documentation(visibility: private)
#endif
fileprivate struct FfiConverterThing {
    static let name = "#if swift(>=5.8)"
}

#if swift(>=5.8)
@_documentation(visibility: private)
#endif
extension FfiConverterThing: Sendable {
#if swift(>=5.8)
    @_documentation(visibility: private)
#endif
    public static func lift(_ handle: UInt64) throws -> UInt64 {
        let writeReturn = { () }
        writeReturn()
        return handle
    }
}

public enum Outcome: Equatable, Sendable {
    case approved(String)
    case denied
}
"""

# Line 6 is the broken one.
BROKEN_SWIFT = """\
import Foundation

#if swift(>=5.8)
@_documentation(visibility: private)
#endif
public func lift(_ handle: UInt64 -> UInt64 {
    return handle
}
"""

VALID_KOTLIN = """\
package dev.latchkey.selftest

/* a comment /* nested */ with class A { x } inside */
sealed interface Reply { data class Ok(val h: String) : Reply; object Bad : Reply }

class Plain : Base() { override fun f(): Int { return 1 } }

object Names { const val X = "class B { y }" }

interface Callback { fun onDone() }

fun makeCall(obj: Callback) {
    val makeCall = suspend { ->
        obj.onDone()
    }
    val template = "${'$'}{obj} and ${obj.hashCode()} { } suspend { -> }"
    val brace = '}'
    println(makeCall.hashCode() + template.length + brace.code)
}

open class Base {
    open fun f(): Int = 0
}
"""

# Line 5 is the broken one.
BROKEN_KOTLIN = """\
package dev.latchkey.selftest

class Plain {
    fun f(): Int = 1
    fun g(x: Int: Int = x
}
"""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def problems_in(directory: Path, name: str, text: str) -> list[Problem]:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    _, problems, _ = run_checks([path])
    return problems


def expect_failure_on_line(problems: list[Problem], line: int) -> None:
    expect(bool(problems), "the checker passed a broken file")
    expect(any(p.line <= line <= p.end_line for p in problems),
           f"no problem reported on line {line}: {[str(p) for p in problems]}")


def case_valid_swift_passes(tmp: Path) -> None:
    problems = problems_in(tmp, "Valid.swift", VALID_SWIFT)
    expect(problems == [], f"valid Swift failed: {[str(p) for p in problems]}")


def case_broken_swift_fails_on_its_line(tmp: Path) -> None:
    expect_failure_on_line(problems_in(tmp, "Broken.swift", BROKEN_SWIFT), 6)


def case_valid_kotlin_passes(tmp: Path) -> None:
    problems = problems_in(tmp, "Valid.kt", VALID_KOTLIN)
    expect(problems == [], f"valid Kotlin failed: {[str(p) for p in problems]}")


def case_broken_kotlin_fails_on_its_line(tmp: Path) -> None:
    expect_failure_on_line(problems_in(tmp, "Broken.kt", BROKEN_KOTLIN), 5)


def case_a_kotlin_script_is_parsed_too(tmp: Path) -> None:
    expect(problems_in(tmp, "ok.gradle.kts", 'plugins {\n    id("x")\n}\n') == [], "a valid .kts failed")
    expect_failure_on_line(problems_in(tmp, "bad.gradle.kts", 'plugins {\n    id("x"\n}\n'), 2)


def case_an_error_inside_a_one_line_class_body_still_fails(tmp: Path) -> None:
    text = "package a\n\nclass A : B { fun f(: Int { return 1 } }\n"
    expect_failure_on_line(problems_in(tmp, "OneLine.kt", text), 3)


def case_an_error_after_a_blanked_attribute_still_fails(tmp: Path) -> None:
    text = "#if swift(>=5.8)\n@_documentation(visibility: private)\n#endif\nfileprivate struct X: {}\n"
    expect_failure_on_line(problems_in(tmp, "Attribute.swift", text), 4)


def case_blanking_keeps_lines_and_touches_only_its_patterns(tmp: Path) -> None:
    swift_in = (
        "@_documentation(visibility: private)\n"      # outside any #if: kept
        "#if swift(>=5.8)\n@_documentation(visibility: private)\n#else\n"
        "@_documentation(visibility: private)\n#endif\n"  # in the #else branch: kept
        "#if os(iOS)\n@_documentation(visibility: private)\n#endif\n"  # another condition: kept
        "    let writeReturn = { () }\n"  # a closure returning (): rewritten
        "    let pair = { ((), ()) }\n"  # anything else: kept
    )
    swift_out = swift_in.split("\n")
    swift_out[2] = ""
    swift_out[9] = "    let writeReturn = { }"
    expect(normalise_swift(swift_in) == "\n".join(swift_out), "Swift blanking touched the wrong lines")

    kotlin_in = (
        'val a = suspend { -> f() }\n'
        'val b = "suspend { -> }" // suspend { ->\n'
        'val c = x.suspend { -> }\n'
        'class A { fun f() {} }\n'
        'class B {}\n'
        'class C { val x = 1; }\n'
        'val d = run { 1 }\n'
        'val e = "class D { x }"\n'
        'fun `it\'s a class { x } test`() {}\n'
        'enum class E { A, B }\n'
    )
    kotlin_out = (
        'val a =         { -> f() }\n'
        'val b = "suspend { -> }" // suspend { ->\n'
        'val c = x.suspend { -> }\n'
        'class A { fun f() {};}\n'
        'class B {}\n'
        'class C { val x = 1; }\n'
        'val d = run { 1 }\n'
        'val e = "class D { x }"\n'
        'fun `it\'s a class { x } test`() {}\n'
        'enum class E { A, B;}\n'
    )
    got = normalise_kotlin(kotlin_in)
    expect(got == kotlin_out, f"Kotlin normalisation differs:\n{got}")


def case_the_pinned_grammars_still_need_each_blanking(tmp: Path) -> None:
    # When a grammar upgrade stops rejecting one of these, delete its rule.
    raw = {
        ("swift", "@_documentation in #if swift(>=5.8)"):
            "#if swift(>=5.8)\n@_documentation(visibility: private)\n#endif\nstruct X {}\n",
        ("swift", "let writeReturn = { () }"):
            "func f() {\n    let writeReturn = { () }\n    g(writeReturn: writeReturn)\n}\n",
        ("kotlin", "suspend { -> }"): "fun g() {\n    val f = suspend { ->\n        h()\n    }\n}\n",
        ("kotlin", "one-line class body"): "class A : B { fun f(): Int { return 1 } }\n",
    }
    for (language, what), text in raw.items():
        expect(syntax_errors(language, text, tmp / "raw") != [],
               f"the pinned {language} grammar now accepts {what}: remove its normalisation")
        normalised = NORMALISERS[language](text)
        expect(syntax_errors(language, normalised, tmp / "raw") == [], f"{what} is not neutralised")


def case_the_command_fails_on_broken_sources_and_passes_valid_ones(tmp: Path) -> None:
    broken, valid = tmp / "broken", tmp / "valid"
    for directory in (broken, valid):
        directory.mkdir()
    (broken / "Broken.swift").write_text(BROKEN_SWIFT, encoding="utf-8")
    (broken / "Broken.kt").write_text(BROKEN_KOTLIN, encoding="utf-8")
    (valid / "Valid.swift").write_text(VALID_SWIFT, encoding="utf-8")
    (valid / "Valid.kt").write_text(VALID_KOTLIN, encoding="utf-8")
    build_output = valid / "target"
    build_output.mkdir()
    (build_output / "Skipped.kt").write_text(BROKEN_KOTLIN, encoding="utf-8")

    env = {k: v for k, v in os.environ.items() if k != GENERATED_ENV}
    command = [sys.executable, __file__]
    run = subprocess.run(command + [str(broken)], capture_output=True, text=True, env=env)
    expect(run.returncode == 1, f"exit {run.returncode} on broken sources:\n{run.stdout}{run.stderr}")
    expect("Broken.swift:6" in run.stdout and "Broken.kt:5" in run.stdout,
           f"file:line missing from:\n{run.stdout}")
    expect(run.stdout.rstrip().endswith("check-sources: 0 passed, 2 failed"), run.stdout)

    run = subprocess.run(command + [str(valid)], capture_output=True, text=True, env=env)
    expect(run.returncode == 0, f"exit {run.returncode} on valid sources:\n{run.stdout}{run.stderr}")
    expect(run.stdout.rstrip().endswith("check-sources: 2 passed, 0 failed"), run.stdout)

    run = subprocess.run(command + [str(valid), "--generated", str(broken)], capture_output=True,
                         text=True, env=env)
    expect(run.returncode == 1, "a broken --generated folder passed")


def case_a_folder_without_sources_fails(tmp: Path) -> None:
    empty = tmp / "empty"
    empty.mkdir()
    run = subprocess.run([sys.executable, __file__, str(empty)], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != GENERATED_ENV})
    expect(run.returncode == 1, f"exit {run.returncode} for a folder without sources")


# A miniature of the generated Swift: two foreign-trait protocols (each with its `…Impl`
# class) and a plain one.
BINDINGS_SWIFT = """\
// This file was autogenerated by some hot garbage in the `uniffi` crate.
import Foundation

public protocol Transport: AnyObject, Sendable {
    func send(request: TransportRequest) throws  -> TransportResponse
}
open class TransportImpl: Transport, @unchecked Sendable {
    public func send(request: TransportRequest) throws -> TransportResponse { fatalError() }
}
public protocol LogSink: AnyObject, Sendable {
    func log(record: LogRecord) throws
}
open class LogSinkImpl: LogSink, @unchecked Sendable {
    public func log(record: LogRecord) throws {}
}
public protocol Pinger: AnyObject, Sendable {
    func ping(_ count: Int, at: [String: String]) -> Void
}
"""

CONFORMING_SWIFT = """\
import Foundation
import LatchkeyFFI

public final class GoodTransport: Transport {
    private let timeout: Double
    public init(timeout: Double) { self.timeout = timeout }
    public func send(request: LatchkeyFFI.TransportRequest) throws -> TransportResponse { fatalError() }
}

final class QuietSink: @unchecked Sendable {
    var count = 0
}

extension QuietSink: LogSink {
    // A non-throwing witness of a throwing requirement, as Swift allows.
    func log(record: LogRecord) {}
}

public final class GoodPinger: Pinger {
    public func ping(_ count: Swift.Int, at: [String : String]) {}
}
"""

# Each line named in NON_CONFORMING_SWIFT_PROBLEMS is one mistake.
NON_CONFORMING_SWIFT = """\
import LatchkeyFFI

public final class WrongLabel: Transport {
    public func send(_ request: TransportRequest) throws -> TransportResponse { fatalError() }
}
public final class WrongReturn: Transport {
    public func send(request: TransportRequest) throws -> Data { fatalError() }
}
public final class NotPublic: Transport {
    func send(request: TransportRequest) throws -> TransportResponse { fatalError() }
}
class NotFinal: LogSink {
    var records = 0
    func log(record: LogRecord) throws {}
}
struct AStruct: LogSink {
    func log(record: LogRecord) throws {}
}
final class ThrowsTooMuch: Pinger {
    func ping(_ count: Int, at: [String: String]) throws {}
}
final class WrongType: Pinger {
    func ping(_ count: Int64, at: [String: String]) {}
}
"""

NON_CONFORMING_SWIFT_PROBLEMS = {
    3: "WrongLabel does not implement Transport.send(request:); has send(_:)",
    7: "returns Data instead of TransportResponse",
    10: "NotPublic.send(request:) must be public",
    12: "NotFinal must be final",
    13: "NotFinal.records is a stored var",
    16: "AStruct is a struct: LogSink is class-only",
    20: "throws where the requirement does not",
    23: "parameter types (Int64, [String:String]) differ from (Int, [String:String])",
}

BINDINGS_KOTLIN = """\
// This file was autogenerated by some hot garbage in the `uniffi` crate.
package dev.latchkey.ffi

public interface Transport {
    fun `send`(`request`: TransportRequest): TransportResponse

    companion object
}

open class TransportImpl : Transport {
    override fun `send`(`request`: TransportRequest): TransportResponse = TODO()
}
"""

CONFORMING_KOTLIN = """\
package dev.latchkey.selftest

import dev.latchkey.ffi.Transport

interface Prompter {
    val name: String

    fun ask(text: String, tries: Int = 1): Boolean

    fun describe(): String = name
}

class GoodTransport(private val x: Int) : Transport {
    override fun send(request: dev.latchkey.ffi.TransportRequest): TransportResponse = TODO()
}

class GoodPrompter(override val name: String) : Prompter {
    override fun ask(text: String, tries: Int): Boolean = true
}

class Delegating(inner: Prompter) : Prompter by inner
"""

NON_CONFORMING_KOTLIN = """\
package dev.latchkey.selftest

interface Prompter {
    val name: String

    fun ask(text: String): Boolean
}

class BadTransport : Transport {
    override fun send(request: ByteArray): TransportResponse = TODO()
}

class BadPrompter : Prompter {
    fun ask(text: String): Boolean = true
}

class WrongReturn : Prompter {
    override val name: String = "x"

    override fun ask(text: String): Int = 1
}
"""

NON_CONFORMING_KOTLIN_PROBLEMS = {
    9: "BadTransport does not implement Transport.send(TransportRequest); has send(ByteArray)",
    13: "BadPrompter does not implement Prompter.val name: String",
    14: "BadPrompter.ask(String) implements Prompter without `override`",
    20: "WrongReturn.ask(String) (Prompter): returns Int instead of Boolean",
}


def conformance_problems(tmp: Path, files: dict[str, str], bindings: dict[str, str]) -> list[Problem]:
    hand, generated = tmp / "hand", tmp / "bindings"
    for directory, contents in ((hand, files), (generated, bindings)):
        directory.mkdir(exist_ok=True)
        for name, text in contents.items():
            (directory / name).write_text(text, encoding="utf-8")
    _, problems, summary = run_checks([hand], [generated])
    expect(summary != "", "the conformance check did not run")
    return problems


def expect_problems(problems: list[Problem], expected: dict[int, str], name: str) -> None:
    for line, text in expected.items():
        expect(any(p.path.name == name and p.line == line and text in p.message for p in problems),
               f"no problem {text!r} on {name}:{line}: {[str(p) for p in problems]}")
    unexpected = [p for p in problems if p.path.name == name and p.line not in expected]
    expect(not unexpected, f"unexpected problems: {[str(p) for p in unexpected]}")


def case_conforming_swift_and_kotlin_pass(tmp: Path) -> None:
    problems = conformance_problems(
        tmp,
        {"Good.swift": CONFORMING_SWIFT, "Good.kt": CONFORMING_KOTLIN},
        {"Bindings.swift": BINDINGS_SWIFT, "bindings.kt": BINDINGS_KOTLIN},
    )
    expect(problems == [], f"conforming shells failed: {[str(p) for p in problems]}")


def case_a_non_conforming_swift_type_fails_on_each_mistake(tmp: Path) -> None:
    problems = conformance_problems(tmp, {"Bad.swift": NON_CONFORMING_SWIFT}, {"Bindings.swift": BINDINGS_SWIFT})
    expect_problems(problems, NON_CONFORMING_SWIFT_PROBLEMS, "Bad.swift")


def case_a_non_conforming_kotlin_class_fails_on_each_mistake(tmp: Path) -> None:
    problems = conformance_problems(tmp, {"Bad.kt": NON_CONFORMING_KOTLIN}, {"bindings.kt": BINDINGS_KOTLIN})
    expect_problems(problems, NON_CONFORMING_KOTLIN_PROBLEMS, "Bad.kt")


def case_a_foreign_trait_nobody_implements_fails(tmp: Path) -> None:
    only_transport = CONFORMING_SWIFT.split("final class QuietSink")[0]
    problems = conformance_problems(tmp, {"Good.swift": only_transport}, {"Bindings.swift": BINDINGS_SWIFT})
    expect([p.message for p in problems] == ["no hand-written swift type outside the tests implements LogSink"],
           f"{[str(p) for p in problems]}")
    tests = tmp / "hand" / "Tests"
    tests.mkdir()
    (tests / "Sink.swift").write_text("final class TestSink: LogSink {\n    func log(record: LogRecord) throws {}\n}\n")
    problems = conformance_problems(tmp, {}, {})
    expect(len(problems) == 1, f"a test double counted as the shell's implementation: {[str(p) for p in problems]}")


def case_the_command_fails_on_a_non_conforming_shell(tmp: Path) -> None:
    bad, bindings = tmp / "bad", tmp / "bindings"
    for directory in (bad, bindings):
        directory.mkdir()
    (bad / "Bad.swift").write_text(NON_CONFORMING_SWIFT, encoding="utf-8")
    (bindings / "Bindings.swift").write_text(BINDINGS_SWIFT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != GENERATED_ENV}
    run = subprocess.run([sys.executable, __file__, str(bad), "--bindings", str(bindings)],
                         capture_output=True, text=True, env=env)
    expect(run.returncode == 1, f"exit {run.returncode} on a non-conforming shell:\n{run.stdout}{run.stderr}")
    expect("Bad.swift:3: WrongLabel does not implement Transport.send(request:)" in run.stdout, run.stdout)
    run = subprocess.run([sys.executable, __file__, str(bad), "--bindings", str(tmp / "none")],
                         capture_output=True, text=True, env=env)
    expect(run.returncode == 2, "a missing --bindings folder was not a usage error")


SCREEN_BINDINGS_SWIFT = """\
public protocol LogSink: AnyObject, Sendable {
    func log(record: String) throws
}
public enum Screen: Equatable {
    /**
     * No account yet.
     */
    case welcome(problem: String?)
    case busy(text: String)
    case history
}
"""

ROOT_VIEW_SWIFT = """\
import SwiftUI

struct RootView: View {
    let screen: Screen

    var body: some View {
        switch screen {
        case .welcome(let problem):
            Text(problem ?? "")
        case .busy(let text):
            Text(text)
        case .history:
            Text("History")
        }
    }
}
"""


def case_the_app_must_render_every_screen(tmp: Path) -> None:
    sink = "final class Sink: LogSink {\n    func log(record: String) {}\n}\n"
    problems = conformance_problems(tmp, {"RootView.swift": ROOT_VIEW_SWIFT, "Sink.swift": sink},
                                    {"Bindings.swift": SCREEN_BINDINGS_SWIFT})
    expect(problems == [], f"a RootView rendering every screen failed: {[str(p) for p in problems]}")
    partial = ROOT_VIEW_SWIFT.replace("        case .history:\n            Text(\"History\")\n", "        default:\n            EmptyView()\n")
    problems = conformance_problems(tmp, {"RootView.swift": partial}, {})
    expect([(p.line, p.message) for p in problems] == [(3, "RootView does not render Screen.history")],
           f"{[str(p) for p in problems]}")


SELF_TEST_CASES = [
    case_valid_swift_passes,
    case_broken_swift_fails_on_its_line,
    case_valid_kotlin_passes,
    case_broken_kotlin_fails_on_its_line,
    case_a_kotlin_script_is_parsed_too,
    case_an_error_inside_a_one_line_class_body_still_fails,
    case_an_error_after_a_blanked_attribute_still_fails,
    case_blanking_keeps_lines_and_touches_only_its_patterns,
    case_the_pinned_grammars_still_need_each_blanking,
    case_the_command_fails_on_broken_sources_and_passes_valid_ones,
    case_a_folder_without_sources_fails,
    case_conforming_swift_and_kotlin_pass,
    case_a_non_conforming_swift_type_fails_on_each_mistake,
    case_a_non_conforming_kotlin_class_fails_on_each_mistake,
    case_a_foreign_trait_nobody_implements_fails,
    case_the_command_fails_on_a_non_conforming_shell,
    case_the_app_must_render_every_screen,
]


def self_test() -> int:
    failed = 0
    for case in SELF_TEST_CASES:
        name = case.__name__.removeprefix("case_").replace("_", " ")
        with tempfile.TemporaryDirectory(prefix="check-sources-") as tmp:
            try:
                case(Path(tmp))
            except AssertionError as error:
                failed += 1
                print(f"FAIL {name}: {error}")
                continue
        print(f"ok   {name}")
    print(f"check-sources: {len(SELF_TEST_CASES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
