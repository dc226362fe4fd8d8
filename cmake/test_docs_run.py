#!/usr/bin/env python3
"""The docs-run check's own test (ctest: docs.run_check_catches_a_difference): on small
made-up chapters whose commands are plain shell (no Wine, a few seconds), it must pass what
matches, fail a changed number or line, let a marked number vary and no other, start
terminal 2 only once terminal 1 listens, stop a server that has no --seconds, and refuse a
marker it cannot read."""
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import docs_run  # noqa: E402

failures = 0


def expect(condition, what):
    global failures
    print(("ok: " if condition else "FAIL: ") + what)
    failures += 0 if condition else 1


def scenarios(text):
    with tempfile.TemporaryDirectory() as folder:
        chapter = pathlib.Path(folder) / "chapter.md"
        chapter.write_text(text, encoding="utf-8")
        return docs_run.scenarios_in([chapter])


def problems_of(text, name="s"):
    problems, _, took = docs_run.check(scenarios(text)[name])
    return problems, took


def session(command, shown, marker="<!-- run: s -->"):
    return f"{marker}\n```text\n$ {command}\n{shown}\n```\n"


problems, _ = problems_of(session("echo 'copied 8 bytes in 3 reads'", "copied 8 bytes in 3 reads"))
expect(not problems, "a session whose command prints what the text shows passes")

problems, _ = problems_of(session("echo 'copied 8 bytes in 3 reads'", "copied 8 bytes in 4 reads"))
expect(len(problems) == 1 and "4 reads" in problems[0], "a number that differs fails")

problems, _ = problems_of(session("echo 'leaked: 0 contexts'", "leaked: none"))
expect(len(problems) == 1, "a line that differs fails")

varying = "<!-- run: s, vary: ms -->"
problems, _ = problems_of(session("echo 'done in 17 ms, 3 reads'", "done in 5 ms, 3 reads", varying))
expect(not problems, "a number the marker lets vary may differ")
problems, _ = problems_of(session("echo 'done in 17 ms, 3 reads'", "done in 5 ms, 4 reads", varying))
expect(len(problems) == 1, "a number the marker does not name must still be the same")

problems, _ = problems_of(session("echo one; echo two; echo three", "one\n...\nthree"))
expect(not problems, "lines between, and '...', are allowed")
problems, _ = problems_of(session("echo one; echo two", "two\none"))
expect(len(problems) == 1, "lines in another order fail")

problems, _ = problems_of(session("echo out; echo err >&2", "err\nout"))
expect(not problems, "the output and error streams each keep their own order")

two_terminals = """<!-- run: s -->
```sh
echo 'listening on 127.0.0.1:1'; sleep 100   # terminal 1: a server with no --seconds
test -n "$(ls)" && echo 'hello'              # terminal 2: prints hello
```
"""
problems, took = problems_of(two_terminals)
expect(not problems, "terminal 2 runs once terminal 1 listens, and its `prints:` is checked")
expect(took < 30, f"terminal 1, with no --seconds, is stopped as Ctrl-C would ({took:.0f} s)")

problems, _ = problems_of(session("sleep 2; echo done", "done"))
expect(not problems, "a scenario of one terminal runs its command to the end, however long it takes")

problems, took = problems_of("""<!-- run: s -->
```sh
echo 'listening on 127.0.0.1:1'; sleep 100   # terminal 1
kill -INT $$                                 # terminal 2: ended by a Ctrl-C nobody asked for
```
""")
expect(len(problems) == 1 and "terminal 2" in problems[0],
       "a command that ends on a signal the check did not send fails")

problems, _ = problems_of(session("exit 2   # exits with status 2", ""))
expect(not problems, "a command ends with the status its comment names")
problems, _ = problems_of(session("exit 1   # exits with status 2", ""))
expect(len(problems) == 1 and "not 2" in problems[0], "another status fails")

failing = "<!-- run: s -->\n```sh\nfalse\n```\n"
problems, _ = problems_of(failing)
expect(len(problems) == 1 and "status 1" in problems[0], "a command of a sh block must succeed")

try:
    scenarios("<!-- run: s terminal two -->\n```sh\ntrue\n```\n")
    expect(False, "a marker the check cannot read is refused")
except docs_run.Broken:
    expect(True, "a marker the check cannot read is refused")

try:
    scenarios("<!-- output: nobody terminal 1 -->\n```text\nx\n```\n")
    expect(False, "output of a scenario no run marker names is refused")
except docs_run.Broken:
    expect(True, "output of a scenario no run marker names is refused")

shown = "```text\n<!-- run: inside -->\n```\n" + session("true", "")
expect(list(scenarios(shown)) == ["s"], "a marker shown inside a block is text, not a marker")

sys.exit(1 if failures else 0)
