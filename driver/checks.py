"""The project's own checks: the docs, the clang portability build and the MSVC-mode build."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import exercises as ex
import pristine
import system
from build import cmd_build
from checker import read
from paths import ROOT, env, solutions_dir
from ui import die, out, say

MSVC_GAPS = """What real MSVC (the windows-msvc job of .github/workflows/ci.yml) can still catch and MSVC
mode cannot, because clang has no such warning:
  C4127       a constant condition: checked above by a grep for `if (PREDICTED_...`, the
              one pattern this project has had; any other shape only cl reports
  C4701/C4703 a local variable or pointer that may be used uninitialised: cl's flow
              analysis is not clang's
  C4702       unreachable code
and whatever differs between Wine's copy of the SDK headers and the real ones (Wine's htons
is a macro, for one, and clang hides warnings inside macros from system headers)."""

# Exercises whose answer depends on the linker (01.2: the stack size the linker writes into
# the program's header, 2 MiB with mingw-w64's, 1 MiB with Microsoft's): msvc-check also
# runs their checkers, with the reference solution, as built in MSVC mode.
LINKER_DEPENDENT_EXERCISES = ["01.2"]
NINJA_NOISE = re.compile(r"^\[[0-9]+/[0-9]+\] |^ninja: no work to do")


def cmd_docs():
    system.install(system.DOCS_PACKAGES)
    return subprocess.run([sys.executable, str(ROOT / "cmake" / "docs_sync.py"), "--write"]).returncode


def cmd_docs_run(args):
    """Every scenario the chapters mark runnable, run as a reader would, its output compared
    with the text's; about five minutes, most of it servers' --seconds."""
    cmd_build()
    say("running the commands the chapters mark runnable, as a reader would (cmake/docs_run.py)")
    return subprocess.run([sys.executable, str(ROOT / "cmake" / "docs_run.py")] + args).returncode


def build_quietly(build, preset=False):
    """A build showing only errors and warnings, then the real verdict from a second run."""
    where = ["--preset", build] if preset else [str(build)]
    process = subprocess.Popen(["cmake", "--build"] + where + ([] if preset else ["--", "-k", "0"]),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    for text in process.stdout:
        if not NINJA_NOISE.search(text):
            print(text, end="", flush=True)
    process.wait()
    subprocess.run(["cmake", "--build"] + where, stdout=subprocess.DEVNULL, check=True)


def cmd_portability():
    cmocka = system.setup()
    system.install(system.PORTABILITY_PACKAGES)
    say("compiling everything with clang for the mingw target (warnings are errors)")
    subprocess.run(["cmake", "--preset", "clang-mingw"] + cmocka, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    build_quietly("clang-mingw", preset=True)
    say("clang build clean")


def constant_conditions():
    """Real cl's C4127 (conditional expression is constant), which clang does not have, on the
    one pattern this project has had: a condition on an exercise's PREDICTED_ macro."""
    pattern = re.compile(r"\b(if|while) *\( *!? *\(?PREDICTED_[A-Z0-9_]+")
    found = []
    for name in pristine.tracked_files(ROOT):
        if re.fullmatch(r"(0[1-8]-[^/]+|common)/.*\.[ch]", name):
            for number, text in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1):
                if pattern.search(text):
                    found.append(f"{name}:{number}:{text}")
    return found


def msvc_configure(source, build, cmocka, extra=()):
    subprocess.run(["cmake", "-S", str(source), "-B", str(build), "-G", "Ninja",
                    f"-DCMAKE_TOOLCHAIN_FILE={source}/cmake/toolchains/clang-cl-wine-sdk.cmake",
                    "-DCMAKE_BUILD_TYPE=Debug"] + list(extra) + cmocka,
                   stdout=subprocess.DEVNULL, check=True)


def cmd_msvc_check():
    """MSVC mode: the MSVC path checked on Linux. clang-cl with Wine's SDK headers and lld-link,
    so the project's MSVC flags (/W4 /WX) are the ones used; the suite then runs under Wine.
    Also builds every exercise checker with its reference solution, in a copy of the tree."""
    cmocka = system.setup()
    system.install(system.MSVC_MODE_PACKAGES)
    build = Path(env("TUTORIAL_MSVC_DIR", str(ROOT / "build" / "msvc-mode")))
    start = time.monotonic()
    if not (build / "CMakeCache.txt").is_file():
        say(f"configuring {build} (clang-cl, Wine's SDK headers, lld-link)")
        msvc_configure(ROOT, build, cmocka)
        out(f"configured in {int(time.monotonic() - start)} s")
    step = time.monotonic()
    say("building everything in MSVC mode (/W4 /WX)")
    build_quietly(build)
    out(f"built in {int(time.monotonic() - step)} s")
    step = time.monotonic()
    count = check_exercises_in_msvc_mode(build, cmocka)
    out(f"{count} checkers built in {int(time.monotonic() - step)} s (and run: "
        f"{' '.join(LINKER_DEPENDENT_EXERCISES)}; one of each kind through the driver's check)")
    constant = constant_conditions()
    if constant:
        out("\n".join(constant))
        die("a condition on a constant (real MSVC's C4127 at /W4 /WX): copy the value to a local first")
    step = time.monotonic()
    say("testing the MSVC-mode build (under Wine)")
    subprocess.run(["ctest", "--test-dir", str(build), "-j4", "--output-on-failure", "-LE",
                    "^(exercise|thorough)$"], check=True)
    out(f"tests ran in {int(time.monotonic() - step)} s")
    say(f"MSVC mode is clean ({int(time.monotonic() - start)} s in all)")
    out(MSVC_GAPS)


def check_exercises_in_msvc_mode(build, cmocka):
    solutions = solutions_dir()
    if solutions is None:
        # As handed out, an extend exercise's checker does not even compile: it needs the
        # learner's code. Without the references there is nothing honest to build here.
        say("no solutions/ here (a course copy): the exercise checkers are not built in MSVC "
            "mode; TUTORIAL_SOLUTIONS can name the folder that holds them")
        return 0
    say("building every exercise checker with its reference solution, in MSVC mode")
    copy, copy_build = build.parent / (build.name + "-src"), build.parent / (build.name + "-exercises")
    shutil.rmtree(copy, ignore_errors=True)
    pristine.sync_files(ROOT, copy, pristine.tracked_files(ROOT))
    if (ROOT / "build" / "downloads").is_dir():  # cmocka's release, for the driver's check
        shutil.copytree(ROOT / "build" / "downloads", copy / "build" / "downloads")
    pristine.git(copy, "init", "-q")  # its own repository: git apply there must not reach this one
    if not (copy_build / "CMakeCache.txt").is_file():
        msvc_configure(copy, copy_build, cmocka, [f"-DTUTORIAL_MSVC_MODE_DIR={build}/msvc-mode-sdk"])
    failures, rows = 0, ex.all_exercises()
    log = tempfile.NamedTemporaryFile(delete=False).name
    for e in rows:
        patch = solutions / f"{e.id}.patch"
        if not patch.is_file() or pristine.git(copy, "apply", str(patch)).returncode:
            out(f"✗ {e.id}: no reference solution solutions/{e.id}.patch, or it does not apply")
            failures += 1
            continue
        failures += not msvc_checker_ok(e, copy_build, log)
        pristine.git(copy, "apply", "-R", str(patch))
    if failures:
        die(f"{failures} exercise checker(s) do not build in MSVC mode, or fail there")
    failures = sum(not checked_through_the_driver(e, copy, copy_build, solutions)
                   for e in one_of_each_kind(rows))
    if failures:
        die(f"{failures} exercise(s) fail the driver's check in MSVC mode with their reference solution")
    return len(rows)


def one_of_each_kind(rows):
    """The exercises msvc-check runs through the driver's check: the linker-dependent ones,
    and the first of every other kind."""
    chosen = [e for e in rows if e.id in LINKER_DEPENDENT_EXERCISES]
    for e in rows:
        if all(c.kind != e.kind for c in chosen):
            chosen.append(e)
    return chosen


def checked_through_the_driver(e, copy, copy_build, solutions):
    """./tutorial check, as a learner runs it, in the copy and its MSVC-mode build, with the
    reference solution in place: what a learner in Visual Studio gets from tutorial.cmd."""
    patch = solutions / f"{e.id}.patch"
    pristine.git(copy, "apply", str(patch))
    say(f"./tutorial check {e.id} ({e.kind}) through the driver, in MSVC mode")
    environment = dict(os.environ, TUTORIAL_BUILD_DIR=str(copy_build))
    result = subprocess.run([sys.executable, str(copy / "driver"), "check", e.id], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    pristine.git(copy, "apply", "-R", str(patch))
    if result.returncode == 0:
        out(f"✓ {e.id} ({e.kind}) passes the driver's check in MSVC mode")
        return True
    out(f"✗ {e.id} ({e.kind}) fails the driver's check in MSVC mode with its reference solution:")
    out("\n".join(result.stdout.splitlines()[-30:]))
    return False


def msvc_checker_ok(e, copy_build, log):
    with open(log, "w") as f:
        built = subprocess.run(["cmake", "--build", str(copy_build), "--target", e.target],
                               stdout=f, stderr=subprocess.STDOUT).returncode == 0
    if not built:
        out(f"✗ {e.id}: its checker does not build in MSVC mode with the reference solution:")
        out("\n".join([l for l in read(log).splitlines() if re.search("error|warning", l)][:20]))
        return False
    if e.id not in LINKER_DEPENDENT_EXERCISES:
        return True
    pattern = "^exercise\\." + e.id.replace(".", "\\.") + "$"
    with open(log, "w") as f:
        passed = subprocess.run(["ctest", "--test-dir", str(copy_build), "-R", pattern, "--no-tests=error",
                                 "--output-on-failure"], stdout=f, stderr=subprocess.STDOUT).returncode == 0
    if not passed:
        out(f"✗ {e.id}: its checker, linked by lld-link as Visual Studio's linker would, fails its reference solution:")
        out("\n".join([l for l in read(log).splitlines() if re.match(r"^(ERROR|\[  FAILED|measured|why)", l)][:20]))
    return passed
