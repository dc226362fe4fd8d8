#!/usr/bin/env python3
"""Keeps the code shown in docs/*.md identical to the real, compiled source.

In a source file, a named region sits between two marker comments:

    /* snippet:begin post_receive */
    ...
    /* snippet:end post_receive */

In a doc, a marker line is followed by a fenced block holding that region:

    <!-- snippet: 04-iocp-basic/src/server.c#post_receive -->
    ```c
    ...
    ```

or the unified diff between two folders (the fix, shown in 07's doc):

    <!-- diff: 06-leak-bug/src 07-leak-fix/src -->
    ```diff
    ...
    ```

`docs_sync.py` checks (exit 1 on any difference, missing region or broken marker);
`docs_sync.py --write` rewrites the fenced blocks from the source.
"""
import argparse
import difflib
import os
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE_SUFFIXES = {".c", ".h", ".cpp", ".cmake", ".txt", ".sh"}
BEGIN = re.compile(r"snippet:begin\s+([\w.-]+)")
END = re.compile(r"snippet:end\s+([\w.-]+)")
DOC_MARKER = re.compile(r"^<!--\s*(snippet|diff):\s*(.+?)\s*-->\s*$")
FENCE = re.compile(r"^```")


class Problem(Exception):
    pass


def regions_of(path):
    """All named regions of one source file: name -> list of lines."""
    regions, open_regions = {}, {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        begin, end = BEGIN.search(line), END.search(line)
        if begin:
            name = begin.group(1)
            if name in open_regions or name in regions:
                raise Problem(f"{path.relative_to(ROOT)}:{number}: region '{name}' begins twice")
            open_regions[name] = []
        elif end:
            name = end.group(1)
            if name not in open_regions:
                raise Problem(f"{path.relative_to(ROOT)}:{number}: region '{name}' ends but never began")
            regions[name] = open_regions.pop(name)
        else:
            for lines in open_regions.values():
                lines.append(line)
    if open_regions:
        raise Problem(f"{path.relative_to(ROOT)}: region(s) never end: {', '.join(open_regions)}")
    return regions


def dedent(lines):
    indents = [len(l) - len(l.lstrip()) for l in lines if l.strip()]
    cut = min(indents, default=0)
    return [l[cut:] for l in lines]


def snippet(reference):
    file_name, _, name = reference.partition("#")
    path = ROOT / file_name
    if not path.is_file():
        raise Problem(f"no source file {file_name}")
    regions = regions_of(path)
    if name not in regions:
        raise Problem(f"{file_name} has no region '{name}' (marker missing?)")
    return dedent(regions[name])


def folder_diff(reference):
    parts = reference.split()
    if len(parts) != 2:
        raise Problem(f"a diff marker names two folders, not '{reference}'")
    old_root, new_root = (ROOT / p for p in parts)
    for folder in (old_root, new_root):
        if not folder.is_dir():
            raise Problem(f"no folder {folder.relative_to(ROOT)}")
    names = sorted({p.relative_to(old_root) for p in old_root.rglob("*") if p.is_file()} |
                   {p.relative_to(new_root) for p in new_root.rglob("*") if p.is_file()})
    lines = []
    for name in names:
        old, new = old_root / name, new_root / name
        old_lines = old.read_text(encoding="utf-8").splitlines() if old.exists() else []
        new_lines = new.read_text(encoding="utf-8").splitlines() if new.exists() else []
        hunks = difflib.unified_diff(old_lines, new_lines, f"{parts[0]}/{name.as_posix()}",
                                     f"{parts[1]}/{name.as_posix()}", lineterm="")
        lines += (with_function_name(line, old_lines) for line in hunks)
    return lines


HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@$")


def with_function_name(line, old_lines):
    """Names the function a hunk is in, as `diff -p` does: the last line before the hunk
    that starts with a letter (a C definition starts in column 0; its body is indented)."""
    header = HUNK_HEADER.match(line)
    if not header:
        return line
    first = int(header.group(1)) - 1  # index of the hunk's first line in the old file
    for candidate in reversed(old_lines[:first]):
        if re.match(r"[A-Za-z_]", candidate):
            return f"{line} {candidate.rstrip(' {')}"
    return line


def expected_block(kind, reference):
    return snippet(reference) if kind == "snippet" else folder_diff(reference)


def sync_doc(doc, write):
    """Returns the problems found in one doc (rewriting it when write is set)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    problems, output, i = [], [], 0
    while i < len(lines):
        output.append(lines[i])
        marker = DOC_MARKER.match(lines[i])
        i += 1
        if not marker:
            continue
        where = f"{doc.relative_to(ROOT)}:{i}"
        if i >= len(lines) or not FENCE.match(lines[i]):
            problems.append(f"{where}: a fenced code block must follow the marker")
            continue
        close = next((j for j in range(i + 1, len(lines)) if FENCE.match(lines[j])), None)
        if close is None:
            problems.append(f"{where}: the code block never closes")
            break
        shown = lines[i + 1:close]
        try:
            wanted = expected_block(marker.group(1), marker.group(2))
        except Problem as problem:
            problems.append(f"{where}: {problem}")
            wanted = shown
        if shown != wanted and not write:
            diff = "\n".join(difflib.unified_diff(shown, wanted, "shown in the doc",
                                                  "in the source", lineterm="", n=1))
            problems.append(f"{where}: the block differs from {marker.group(2)}:\n{diff}")
        output.append(lines[i])
        output += wanted if write else shown
        output.append(lines[close])
        i = close + 1
    if write and output != lines:
        # UTF-8 and "\n" whatever the platform's defaults (cp1252 and "\r\n" on Windows).
        with open(doc, "w", encoding="utf-8", newline="\n") as out:
            out.write("\n".join(output) + "\n")
        print(f"updated {doc.relative_to(ROOT)}")
    return problems


def check_all_sources():
    problems = []
    for folder, subfolders, files in os.walk(ROOT):
        # Skip build trees (with their Wine prefix) and hidden folders.
        subfolders[:] = sorted(d for d in subfolders if not d.startswith((".", "build")))
        for path in (pathlib.Path(folder) / f for f in sorted(files)):
            if path.suffix not in SOURCE_SUFFIXES:
                continue
            try:
                regions_of(path)
            except (Problem, UnicodeDecodeError) as problem:
                problems.append(str(problem))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the docs from the source")
    parser.add_argument("docs", nargs="*", help="docs to check (default: docs/*.md and README.md)")
    args = parser.parse_args()
    docs = [pathlib.Path(d).resolve() for d in args.docs] or \
        sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
    problems = check_all_sources()
    blocks = 0
    for doc in docs:
        if doc.is_file():
            blocks += sum(1 for l in doc.read_text(encoding="utf-8").splitlines() if DOC_MARKER.match(l))
            problems += sync_doc(doc, args.write)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"docs check: {len(problems)} problem(s); "
              "run ./tutorial docs to rewrite the blocks from the source", file=sys.stderr)
        return 1
    print(f"docs check: {blocks} quoted block(s) in {len(docs)} doc(s) match the source")
    return 0


if __name__ == "__main__":
    sys.exit(main())
