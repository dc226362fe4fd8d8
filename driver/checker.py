"""Running an exercise's checker and reading its verdict.

A checker passes only when it printed the verdict line with this run's key, which it does
once every test has passed (ck_run_checker): cmocka's RUN, OK and PASSED lines alone prove
nothing, since the code under test shares the checker's output and could print them.
"""
import os
import re
import secrets
import subprocess
import tempfile

from testing import step_tests_pass
from ui import out

PASS, FAIL, NO_BUILD, MISSING, STEP_TESTS = "pass", "fail", "no-build", "missing", "step-tests"
PREFIX = r"^([0-9]+: )?"


def checker_ctest(build, exercise_id, log_path, fixture=(), key=""):
    """Runs the checker, its whole output in log_path; key is the verdict key the checker
    prints once every test has passed. --no-tests=error: a checker that is not registered
    (its step left out, a typo in a CMakeLists.txt) must fail, where ctest would say "No
    tests were found" and pass."""
    pattern = "^exercise\\." + exercise_id.replace(".", "\\.") + "$"
    # The key goes to this run only, not to os.environ: grade runs checkers side by side.
    run_env = dict(os.environ, TUTORIAL_VERDICT_KEY=key) if key else None
    with open(log_path, "w") as log:
        return subprocess.run(["ctest", "--test-dir", str(build), "-R", pattern,
                               "--no-tests=error", "-V"] + list(fixture),
                              stdout=log, stderr=subprocess.STDOUT, env=run_env).returncode


def verdict_key():
    """A key drawn for one run of a checker, which the code under test does not know."""
    return secrets.token_hex(12)


def ran_to_the_end(log_text, key):
    started = len(re.findall(PREFIX + r"\[ RUN      \]", log_text, re.M))
    finished = len(re.findall(PREFIX + r"\[       OK \]", log_text, re.M))
    verdict = re.search(PREFIX + "verdict: " + re.escape(key) + r" passed [0-9]+$", log_text, re.M)
    return started > 0 and started == finished and verdict is not None


def checker_verdict(build, exercise, log_path, fixture=()):
    """Builds and runs a checker: PASS, FAIL, NO_BUILD (the checker does not compile) or
    MISSING (no such target: its step is not in this build)."""
    with open(log_path, "w") as log:
        built = subprocess.run(["cmake", "--build", str(build), "--target", exercise.target],
                               stdout=log, stderr=subprocess.STDOUT).returncode == 0
    if not built:
        return MISSING if "unknown target" in read(log_path) else NO_BUILD
    key = verdict_key()
    status = checker_ctest(build, exercise.id, log_path, fixture, key)
    return PASS if status == 0 and ran_to_the_end(read(log_path), key) else FAIL


def exercise_verdict(build, exercise, log_path, fixture=()):
    """The checker's verdict, or STEP_TESTS when it passes but the step's own tests, which
    the exercise needs, fail."""
    verdict = checker_verdict(build, exercise, log_path, fixture)
    if verdict == PASS and exercise.needs_step_tests and \
            not step_tests_pass(build, exercise.step, log_path, list(fixture)):
        return STEP_TESTS
    return verdict


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def strip_test_number(line):
    return re.sub(r"^[0-9]+: ", "", line)


def learner_lines(log_text):
    """The checker's lines meant for the learner ("why: ..." and "measured: ...")."""
    found = []
    for line in log_text.splitlines():
        match = re.match(r"^([0-9]+: )?\s*((why|measured): .*)$", line)
        if match:
            found.append(match.group(2))
    return found


BOOKKEEPING = re.compile(r"^(Test command|Working Directory|Environment variables|Test timeout|"
                         r"wine-run: )|^(WINE|PATH)=|^\[ RUN|^\[       OK|^\[==========\]|"
                         r"^\[  PASSED|^\[  ERROR   \] --- |^ *$")


def checker_words(log_text):
    """The checker's own words on a failure, without ctest's and cmocka's bookkeeping."""
    words = []
    for line in log_text.splitlines():
        if not re.match(r"^[0-9]+: ", line):
            continue
        line = strip_test_number(line)
        if "test(s), listed below" in line:
            break  # the end repeats the failed tests' names
        if not BOOKKEEPING.search(line):
            words.append(line)
    return words[:40]


def failed_tests(log_text):
    """Which tests failed, and the lines where they did. A test that failed before cmocka
    reported anything (Wine could not start it, a crash) has no such lines: then what it
    printed follows, so that such a failure is not mistaken for a wrong answer."""
    lines = log_text.splitlines()
    pattern = re.compile(r"\*\*\*(Failed|Timeout|Exception)|\[  FAILED  \] [A-Za-z_]|error: Failure|"
                         r"^ERROR|^(FAIL|fail)[: ]")
    found = [l for l in lines if pattern.search(l)][:20]
    if not re.search(r"\[  FAILED  \]|error: Failure", log_text):
        left = 0
        for line in lines:
            if re.search(r"\*\*\*(Failed|Exception)", line):
                left = 12
                continue
            if re.search(r"Test +#[0-9]+:|^ *Start +[0-9]+:", line):
                left = 0
            if left > 0 and line.split():
                found.append("  | " + line)
                left -= 1
    return found


def compile_errors(log_text):
    pattern = re.compile(r": (fatal )?error|: warning|undefined reference")
    return [l for l in log_text.splitlines() if pattern.search(l)][:20]


def verdict_words(verdict):
    return {PASS: "passes", FAIL: "fails", NO_BUILD: "fails (does not compile)",
            MISSING: "has no checker in this build",
            STEP_TESTS: "fails (the step's own tests)"}[verdict]


def exercise_passes(build, exercise, fixture=(), quiet=False):
    """Does the exercise pass? Says what went wrong, or what the checker measured and why."""
    handle, log_path = tempfile.mkstemp()
    os.close(handle)
    try:
        verdict = exercise_verdict(build, exercise, log_path, fixture)
        if not quiet:
            explain(verdict, exercise, read(log_path))
    finally:
        os.unlink(log_path)
    return verdict == PASS


def explain(verdict, exercise, log_text):
    if verdict == PASS:
        lines = learner_lines(log_text)
        if lines:
            why = ", and why" if any(l.startswith("why: ") for l in lines) else ""
            out(f"What the checker measured{why}:")
            for line in lines:
                out("  " + line)
    elif verdict == FAIL:
        out(f"✗ {exercise.id} is not done yet. What the checker said:")
        for line in checker_words(log_text):
            out(line)
    elif verdict == NO_BUILD:
        out(f"✗ {exercise.id} does not compile yet:")
        for line in compile_errors(log_text):
            out(line)
    elif verdict == MISSING:
        out(f"✗ {exercise.id}: its checker is not in this build (is step {exercise.step} in TUTORIAL_STEPS?)")
    else:
        out(f"✗ {exercise.id}: the checker passes, but step {exercise.step}'s own tests no longer do:")
        for line in failed_tests(log_text):
            out(line)
