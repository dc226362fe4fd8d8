"""Running the tree's programs: a step's server, another program, the demo, the bench."""
import os
import subprocess
import sys

import system
from build import build_program, cmd_build
from paths import ROOT, STEP, build_dir
from ui import Stop, die, say, usage_error


def program_for(name):
    return f"step{name}-server" if STEP.fullmatch(name) else name


def exec_or_run(command):
    """Replaces the driver with the program where the system can (Ctrl-C then reaches the
    program alone), else runs it and passes its status on."""
    sys.stdout.flush()
    if os.name != "nt":
        os.execv(command[0], command)
    raise Stop(subprocess.run(command).returncode)


def cmd_run(args):
    if not args:
        usage_error("run needs a step number (01..08) or a program name")
    program = program_for(args[0])
    build_program(program)
    bin_dir = build_dir() / "bin"
    if not (bin_dir / f"{program}.exe").is_file():
        known = " ".join(sorted(p.stem for p in bin_dir.glob("*.exe")))
        usage_error(f"no program '{program}'; run takes a step number 01..08 or one of: {known} ")
    say(f"running {' '.join([program] + args[1:])}{system.UNDER} (Ctrl-C stops it)")
    exec_or_run(system.program_command(build_dir(), program, args[1:]))


def cmd_demo(args):
    cmd_build()
    for program in ("step06-server", "step07-server", "reset-storm"):
        if not (build_dir() / "bin" / f"{program}.exe").is_file():
            die(f"the demo needs {program}, which this tree does not build yet")
    say("the demo: step 06 and step 07 under the same reset storm")
    exec_or_run([sys.executable, str(ROOT / "demo" / "demo.py"), "--bin", str(build_dir() / "bin")] + args)


def cmd_bench(args):
    """The benchmark lives in its own script; this only finds it."""
    bench = ROOT / "cmake" / "bench"
    if not bench.is_file():
        die("the benchmark (cmake/bench) is not in this tree yet")
    exec_or_run([sys.executable, str(bench)] + args)
