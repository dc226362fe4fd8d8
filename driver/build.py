"""Configuring and building a tree, with a progress line a first build needs."""
import re
import subprocess
import sys
import time

import system
from paths import ROOT, build_dir, env
from ui import Stop, die, say

BUILD_PROGRESS_S = 15
NINJA_STEP = re.compile(r"^\[(\d+)/(\d+)\] ")


def step_set(text):
    return set(text.replace(";", " ").split())


def configured_steps(build):
    """The TUTORIAL_STEPS a build folder was configured with, or None before its first
    configure."""
    cache = build / "CMakeCache.txt"
    if not cache.is_file():
        return None
    for line in cache.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("TUTORIAL_STEPS:"):
            return line.split("=", 1)[1]
    return ""


def configure_tree(source, build, cmocka):
    """Configures a build folder once, and again when TUTORIAL_STEPS names other steps than
    it was configured with (a later command for other steps would find no checker there);
    builds are incremental."""
    configured = configured_steps(build)
    if configured is not None and step_set(configured) == step_set(env("TUTORIAL_STEPS")):
        return
    say(f"configuring {build}" + ("" if configured is None else
                                  f" again, for steps '{env('TUTORIAL_STEPS') or 'all'}'"))
    subprocess.run(system.configure_command(source, build, cmocka, env("TUTORIAL_STEPS")),
                   stdout=subprocess.DEVNULL, check=True)


def configure():
    cmocka = system.setup()
    configure_tree(ROOT, build_dir(), cmocka)
    return cmocka


def filter_progress(lines, write=print, clock=time.monotonic):
    """Ninja's output, filtered: errors and warnings as they come; its "[N/M] ..." line of each
    step only as "built N of M" every BUILD_PROGRESS_S seconds, so that a first build (minutes)
    shows it is moving, and an up-to-date one prints nothing."""
    last = clock()
    for line in lines:
        line = line.rstrip("\n")
        step = NINJA_STEP.match(line)
        if step:
            if clock() - last >= BUILD_PROGRESS_S:
                print(f"    built {step.group(1)} of {step.group(2)}", file=sys.stderr, flush=True)
                last = clock()
        elif not (line.startswith("ninja: no work to do") or line.startswith("-- ")):
            write(line)


def build_with_progress(build, target=None):
    """Builds (every target, or one) showing every failing target's errors once (-k 0);
    returns whether the build succeeded, judged by a second, quiet run."""
    chosen = ["--target", target] if target else []
    process = subprocess.Popen(["cmake", "--build", str(build)] + chosen + ["--", "-k", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace")
    filter_progress(process.stdout, write=lambda line: print(line, flush=True))
    process.wait()
    return subprocess.run(["cmake", "--build", str(build)] + chosen,
                          stdout=subprocess.DEVNULL).returncode == 0


def build_tree(build):
    if not build_with_progress(build):
        raise Stop(1)  # the errors are above


def cmd_build():
    configure()
    say("building")
    build_tree(build_dir())


def knows_target(build, target):
    return subprocess.run(["ninja", "-C", str(build), "-t", "query", target],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def build_program(program):
    """Builds one program and what it needs, not the whole tree: a server started from the
    chapters' commands, often beside another terminal, should not wait for the tests' build
    check. A name the build does not know builds everything (run then lists the programs)."""
    configure()
    build = build_dir()
    if knows_target(build, program):
        say(f"building {program}")
        if not build_with_progress(build, program):
            die(f"{program} does not build: see the errors above")
    else:
        say("building")
        build_tree(build)
