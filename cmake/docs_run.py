#!/usr/bin/env python3
"""Runs the commands the chapters mark runnable, as a reader would, and compares what they
print with what the text shows.

A marker line before a fenced block makes it runnable; blocks with the same name make one
scenario, run together in the order a reader meets them:

    <!-- run: ch4-shutdown -->
    ```sh
    ./tutorial run 04 --threads 4 --seconds 10                  # terminal 1
    ./tutorial run client --port 7004 --payload "hello, port"   # terminal 2
    ```

A block can also be a terminal session: each `$ ` line is a command, and the lines after it
are what that command prints. The marker can name the block's terminal (1 unless a command's
comment says `# terminal N`), when that terminal may start, and which numbers vary:

    <!-- run: ch2-full terminal 3, once terminal 2 prints "holding 62", vary -->

A marker before a block of output names the terminal whose output it shows:

    <!-- output: ch4-shutdown terminal 1 -->
    <!-- output: ch6-storm terminal 1, vary: accepted, resets, private_bytes -->

Every line shown must appear, in order, in what was printed (on the output stream or the
error stream: each keeps its own order; other lines may come between; a line `...` stands
for lines left out). A number must be the same, unless the word right before it (`resets`
in `resets=218`) or right after it (`ms` in `5 ms`) is one of the words after `vary:`, or
the marker says `vary` alone: such a number is one a run measures, and any number matches.
A comment `# prints: TEXT` (or `prints TEXT`) expects the line TEXT, and `# exits with
status N` that status.

How a scenario runs:
- A command's comment names its terminal (`# terminal 2`); a line without one stays in the
  terminal of the line before it. "twice" or "three times" in it runs the command so often.
- Terminal 1 starts first. When a scenario has more than one terminal, the others wait for
  terminal 1's "listening on" line; then each starts once the terminal before it has printed
  a line of its own (`./tutorial`'s `==>` lines do not count) or ended, or when its marker's
  `once terminal N prints "TEXT"` holds. A terminal runs its commands one after another.
- When the other terminals are done, terminal 1 gets until its `--seconds` are up (and a
  margin); a command there without `--seconds` is stopped, as a reader's Ctrl-C would.
- A command of a `sh` block must succeed; a session's command may fail, as a usage error
  shown in the text does: what it prints is compared, and its status where a comment names it.

Usage: docs_run.py [--list] [NAME...]   (exit 1 on any difference, 2 on a broken marker)
"""
import argparse
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OPTIONS = r"(?:\s+terminal\s+(?P<terminal>\d+))?" \
          r"(?:\s*,\s*once\s+terminal\s+(?P<once>\d+)\s+prints\s+\"(?P<text>[^\"]+)\")?" \
          r"(?:\s*,\s*(?P<vary>vary)(?::\s*(?P<words>.+?))?)?"
RUN_MARKER = re.compile(r"^<!--\s*run:\s*(?P<name>[\w.-]+)" + OPTIONS + r"\s*-->\s*$")
OUTPUT_MARKER = re.compile(r"^<!--\s*output:\s*(?P<name>[\w.-]+)" + OPTIONS + r"\s*-->\s*$")
FENCE = re.compile(r"^```")
PRINTS = re.compile(r"\bprints:?\s+(.+?)\s*$")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
START_BOUND_S = 180      # the first `./tutorial run` may still build a step
COMMAND_BOUND_S = 120    # any one command of a scenario, beyond its own --seconds
SECONDS_MARGIN_S = 30    # how much longer than its --seconds a server may take to end


class Broken(Exception):
    pass


class Expected:
    """Lines a command, or a whole terminal, must print."""

    def __init__(self, lines, vary_all, vary_words, where):
        self.lines = [l for l in lines if l.strip() and l.strip() != "..."]
        self.vary_all, self.vary_words, self.where = vary_all, vary_words, where


class Command:
    def __init__(self, text, terminal, times, must_succeed, where):
        self.text, self.terminal, self.times = text, terminal, times
        self.must_succeed, self.where = must_succeed, where
        self.expected = None
        self.status = None  # the exit status a comment `# exits with status N` asks for

    def seconds(self):
        words = shlex.split(self.text, comments=True)
        if "--seconds" in words[:-1]:
            return int(words[words.index("--seconds") + 1])
        return None


class Scenario:
    def __init__(self, name):
        self.name, self.commands, self.outputs = name, [], []
        self.start_when = {}  # terminal -> (terminal, text) it waits for


def fenced_block(lines, start, where):
    """The lines of the fenced block that begins at lines[start], and whether it is sh."""
    if start >= len(lines) or not FENCE.match(lines[start]):
        raise Broken(f"{where}: a marker must stand right before a fenced block")
    for end in range(start + 1, len(lines)):
        if FENCE.match(lines[end]):
            return lines[start + 1:end], lines[start].strip() in ("```sh", "```bash")
    raise Broken(f"{where}: the block after the marker never ends")


def vary_of(marker):
    words = [w.strip() for w in (marker.group("words") or "").split(",") if w.strip()]
    return marker.group("vary") is not None and not words, words


def parse_run_block(block, is_sh, marker, terminal, where):
    """The commands of one block; terminal is the one its first line runs in."""
    commands, shown = [], []  # shown[i]: the lines the text shows commands[i] printing
    for line in block:
        if not is_sh:
            if not line.startswith("$ "):
                if not commands:
                    raise Broken(f"{where}: a session block must begin with a '$ ' line")
                shown[-1].append(line.rstrip())
                continue
            line = line[2:]
        text, _, comment = line.partition(" #")
        if not text.strip():
            continue
        named = re.search(r"terminal (\d+)", comment)
        if named:
            terminal = int(named.group(1))
        times = 3 if "three times" in comment else 2 if "twice" in comment else 1
        commands.append(Command(text.strip(), terminal, times, is_sh, where))
        asked = re.search(r"exits with status (\d+)", comment)
        if asked:
            commands[-1].status = int(asked.group(1))
        printed = PRINTS.search(comment)
        shown.append([printed.group(1)] if printed else [])
    vary_all, vary_words = vary_of(marker)
    for command, lines in zip(commands, shown):
        command.expected = Expected(lines, vary_all, vary_words, where)
    return commands


def shown_path(path):
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def scenarios_in(paths):
    scenarios = {}
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        in_block = False
        for number, line in enumerate(lines, 1):
            if FENCE.match(line):
                in_block = not in_block
            if in_block or FENCE.match(line):
                continue  # a marker shown inside a block (as docs/README.md does) is text
            where = f"{shown_path(path)}:{number}"
            run, output = RUN_MARKER.match(line), OUTPUT_MARKER.match(line)
            if not run and not output and re.match(r"^<!--\s*(run|output):", line):
                raise Broken(f"{where}: a marker this check cannot read")
            if run:
                name = run.group("name")
                scenario = scenarios.setdefault(name, Scenario(name))
                block, is_sh = fenced_block(lines, number, where)
                first = int(run.group("terminal") or
                            (scenario.commands[-1].terminal if scenario.commands else 1))
                commands = parse_run_block(block, is_sh, run, first, where)
                if run.group("once"):
                    scenario.start_when[first] = (int(run.group("once")), run.group("text"))
                scenario.commands += commands
            elif output:
                name = output.group("name")
                if name not in scenarios:
                    raise Broken(f"{where}: output of '{name}', which no earlier run marker names")
                block, _ = fenced_block(lines, number, where)
                vary_all, vary_words = vary_of(output)
                scenarios[name].outputs.append(
                    (int(output.group("terminal") or 1),
                     Expected([l.rstrip() for l in block], vary_all, vary_words, where)))
    for scenario in scenarios.values():
        if not scenario.commands or scenario.commands[0].terminal != 1:
            raise Broken(f"scenario '{scenario.name}': its first command must be terminal 1's")
    return scenarios


# ---- running ---------------------------------------------------------------------------

def read(path):
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


class Run:
    """One run of one command: where its two streams went."""

    def __init__(self, command, log_dir, index):
        self.command = command
        self.out = log_dir / f"{index}.out"
        self.err = log_dir / f"{index}.err"

    def printed(self):
        return read(self.out), read(self.err)


class Terminal:
    """One terminal of a scenario: its commands one after another."""

    def __init__(self, number, commands, log_dir):
        self.number, self.commands, self.log_dir = number, commands, log_dir
        self.runs, self.process = [], None
        self.lock, self.stopping = threading.Lock(), False  # stopping: told to end, as by Ctrl-C
        self.finished = threading.Event()
        self.failure = None
        self.thread = threading.Thread(target=self._run_all, daemon=True)

    def _run_all(self):
        try:
            for command in self.commands:
                for _ in range(command.times):
                    if not self._run(command):
                        return
        finally:
            self.finished.set()

    def _run(self, command):
        run = Run(command, self.log_dir, f"t{self.number}-{len(self.runs)}")
        self.runs.append(run)
        with open(run.out, "wb") as out, open(run.err, "wb") as err, self.lock:
            if self.stopping:
                return False
            self.process = subprocess.Popen(
                ["bash", "-c", command.text], cwd=ROOT, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True)
        bound = (command.seconds() or 0) + COMMAND_BOUND_S
        try:
            self.process.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            self.failure = f"`{command.text}` ran past {bound} s"
            self.stop()
            return False
        status = self.process.returncode
        ended_well = status == 0 or (self.stopping and status == -signal.SIGINT)
        if command.status is not None and status != command.status:
            self.failure = f"`{command.text}` ended with status {status}, not {command.status}"
        elif command.status is None and command.must_succeed and not ended_well:
            self.failure = f"`{command.text}` ended with status {status}"
        return not self.stopping

    def start(self):
        self.thread.start()

    def printed(self):
        runs = list(self.runs)
        return ("".join(r.printed()[0] for r in runs), "".join(r.printed()[1] for r in runs))

    def has_printed(self, text=None):
        out, err = self.printed()
        lines = [l for l in plain_lines(out + err) if not l.startswith("==>")]
        return any(text in l for l in lines) if text else bool(lines)

    def stop(self):
        """What Ctrl-C does in a reader's terminal: the whole process group is told to end."""
        with self.lock:
            self.stopping = True
            process = self.process
        if process is None or process.poll() is not None:
            return
        for sig, grace in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


def wait_until(condition, bound_s):
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def run_scenario(scenario, log_dir):
    numbers = sorted({c.terminal for c in scenario.commands})
    terminals = {n: Terminal(n, [c for c in scenario.commands if c.terminal == n], log_dir)
                 for n in numbers}
    problems = []
    first = terminals[1]
    first.start()
    if len(numbers) == 1:  # no server waiting for clients: its commands run to their end
        first.thread.join()
        return terminals, [f"terminal 1: {first.failure}"] if first.failure else []
    if not wait_until(
            lambda: first.has_printed("listening on ") or first.finished.is_set(), START_BOUND_S):
        problems.append(f"terminal 1 printed no 'listening on' line in {START_BOUND_S} s")
    for previous, number in zip(numbers, numbers[1:]):
        awaited, text = scenario.start_when.get(number, (previous, None))
        if awaited != 1 or text:
            other = terminals[awaited]
            if not wait_until(lambda: other.has_printed(text) or other.finished.is_set(),
                              START_BOUND_S):
                problems.append(f"terminal {number} waited in vain for terminal {awaited}")
        terminals[number].start()
    for number in numbers[1:]:
        terminals[number].thread.join()
    if all(c.seconds() for c in first.commands):
        first.finished.wait(max(c.seconds() for c in first.commands) + SECONDS_MARGIN_S)
    for terminal in terminals.values():
        terminal.stop()
    first.thread.join(30)
    for terminal in terminals.values():
        if terminal.failure:
            problems.append(f"terminal {terminal.number}: {terminal.failure}")
    return terminals, problems


# ---- comparing -------------------------------------------------------------------------

def varies(line, number, expected):
    """Whether this number of an expected line may differ: the word right before it (as in
    `accepted=285`) or right after it (as in `5 ms`) is one of the marker's vary words."""
    if expected.vary_all:
        return True
    before = re.search(r"([A-Za-z_]\w*)(?:=|:\s?|\s)$", line[:number.start()])
    after = re.match(r"\s?([A-Za-z]\w*)", line[number.end():])
    return any(m and m.group(1) in expected.vary_words for m in (before, after))


def line_pattern(line, expected):
    parts, at = [], 0
    for number in NUMBER.finditer(line):
        parts.append(re.escape(line[at:number.start()]))
        parts.append(r"\d+(?:[.,]\d+)*" if varies(line, number, expected)
                     else re.escape(number.group()))
        at = number.end()
    parts.append(re.escape(line[at:]))
    return re.compile("^" + "".join(parts) + r"\s*$")


ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


def plain_lines(text):
    return [ESCAPES.sub("", l) for l in text.splitlines()]


def missing_lines(expected, out, err):
    """The expected lines not found, in order, in either stream."""
    streams = [plain_lines(out), plain_lines(err)]
    positions, missing = [0, 0], []
    for line in expected.lines:
        pattern = line_pattern(line, expected)
        for s, stream in enumerate(streams):
            found = next((i for i in range(positions[s], len(stream))
                          if pattern.match(stream[i])), None)
            if found is not None:
                positions[s] = found + 1
                break
        else:
            missing.append(line)
    return missing


def compare(expected, out, err, who):
    missing = missing_lines(expected, out, err)
    if not missing:
        return None
    shown = "\n".join("      | " + l for l in plain_lines(out + err)[-40:])
    return (f"{expected.where}: {who} did not print, in this order:\n"
            + "\n".join("      - " + l for l in missing) + f"\n    it printed:\n{shown}")


def check(scenario):
    with tempfile.TemporaryDirectory(prefix=f"docs-run-{scenario.name}-") as log_dir:
        began = time.monotonic()
        terminals, problems = run_scenario(scenario, pathlib.Path(log_dir))
        compared = 0
        for terminal in terminals.values():
            for run in terminal.runs:
                if run.command.expected.lines:
                    compared += 1
                    problems.append(compare(run.command.expected, *run.printed(),
                                            f"`{run.command.text}`"))
        for number, expected in scenario.outputs:
            compared += 1
            if number not in terminals:
                problems.append(f"{expected.where}: no command runs in terminal {number}")
                continue
            problems.append(compare(expected, *terminals[number].printed(), f"terminal {number}"))
        return [p for p in problems if p], compared, time.monotonic() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the scenarios, run nothing")
    parser.add_argument("names", nargs="*", help="run only these scenarios")
    arguments = parser.parse_args()
    paths = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
    try:
        scenarios = scenarios_in(paths)
    except Broken as broken:
        print(f"docs_run: {broken}", file=sys.stderr)
        return 2
    unknown = [n for n in arguments.names if n not in scenarios]
    if unknown:
        print(f"docs_run: no scenario named {', '.join(unknown)}; --list shows them",
              file=sys.stderr)
        return 2
    chosen = [scenarios[n] for n in (arguments.names or scenarios)]
    if arguments.list:
        for scenario in chosen:
            where = scenario.commands[0].where
            print(f"{scenario.name:24} {where}  ({len(scenario.commands)} commands, "
                  f"{len(scenario.outputs)} output blocks)")
        return 0
    failed = 0
    for scenario in chosen:
        print(f"docs: running {scenario.name} ({scenario.commands[0].where})", flush=True)
        problems, compared, took = check(scenario)
        if problems:
            failed += 1
            print(f"✗ {scenario.name} ({took:.0f} s)")
            for problem in problems:
                print(f"    {problem}")
        else:
            outputs = f"{compared} output{'' if compared == 1 else 's'} as the text shows"
            print(f"✓ {scenario.name}: {outputs if compared else 'ran'} ({took:.0f} s)",
                  flush=True)
    print(f"{len(chosen) - failed} of {len(chosen)} scenarios ran as the docs say")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
