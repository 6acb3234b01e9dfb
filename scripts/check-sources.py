#!/usr/bin/env python3
"""Parse-check the shells' Kotlin and Swift sources with tree-sitter.

There is no Swift toolchain on these machines and the Maven build compiles only the JVM
part of the Android shell, so this is the check every `.kt`, `.kts` and `.swift` file gets:
it parses with the pinned tree-sitter grammars (scripts/requirements-check.txt) and must
contain no syntax error.

    check-sources.py [PATH ...] [--generated DIR ...]   # default PATHs: android/ ios/
    check-sources.py --self-test

Generated bindings are checked when their folder is named with `--generated` or in
$LATCHKEY_GENERATED_SOURCES (folders separated by ':'). Below every folder, build output
(`target`, `build`, `.build`, ...) and hidden folders are skipped; a folder named
explicitly is always walked. Finding no source at all is an error.

The grammars reject a few constructs that Kotlin and Swift accept. Exactly these are
neutralised before parsing, keeping every line where it was (see `normalise_kotlin` and
`normalise_swift`), and the self-test proves that each still trips the pinned grammar and
that a broken file fails regardless.

Exit status: 0 when every file parses, 1 when any check reports a problem, 2 on usage
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


# The checks `main` runs over the collected sources, in order. A later check (conformance
# of the hand-written shells to the generated API, say) is one more function here.
CHECKS: list[Callable[[list[SourceFile]], list[Problem]]] = [check_parses]


def run_checks(roots: list[Path]) -> tuple[list[SourceFile], list[Problem]]:
    sources = load_sources(roots)
    problems: list[Problem] = []
    for check in CHECKS:
        problems.extend(check(sources))
    return sources, problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: android/ ios/)")
    parser.add_argument("--generated", action="append", type=Path, default=[], metavar="DIR",
                        help=f"a folder of generated bindings to check too (or ${GENERATED_ENV})")
    parser.add_argument("--self-test", action="store_true", help="prove the checker fails on broken sources")
    args = parser.parse_args(argv)

    if args.self_test:
        return self_test()

    roots = args.paths or [REPO_ROOT / name for name in DEFAULT_ROOTS]
    roots += args.generated
    roots += [Path(p) for p in os.environ.get(GENERATED_ENV, "").split(os.pathsep) if p]
    missing = [root for root in roots if not root.exists()]
    if missing:
        for root in missing:
            print(f"check-sources: {root}: no such file or folder", file=sys.stderr)
        return 2

    sources, problems = run_checks(roots)
    for problem in problems:
        print(problem)
    if not sources:
        print("check-sources: no Kotlin or Swift sources under " + ", ".join(map(display, roots)))
        print("check-sources: 0 passed, 1 failed")
        return 1
    failed = {p.path for p in problems}
    print(f"check-sources: {len(sources) - len(failed)} passed, {len(failed)} failed")
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
    _, problems = run_checks([path])
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
