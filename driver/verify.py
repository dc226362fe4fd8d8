"""CI: the exercises are honest. Per exercise, in a copy of the tree with one build folder
reused (patches applied and reverted, so each run rebuilds only what a patch touched): the
checker fails on the pristine tree; it passes with the reference solution, again beside two
busy loops, and the step's tests still pass; it fails with each anti-solution."""
import os
import subprocess
import sys
import tempfile
import time

import exercises as ex
import pristine
import system
from build import build_tree, configure_tree
from checker import (MISSING, PASS, checker_verdict, checker_words, compile_errors,
                     exercise_verdict, failed_tests, read, verdict_words)
from paths import ROOT, beside_build, env, solutions_dir
from testing import step_tests_pass
from ui import die, out, refuse, say


def verify_runs():
    """How many times each reference runs its checker (TUTORIAL_VERIFY_RUNS, 3 unless set):
    the first alone, every later one beside two busy loops, as on a shared classroom or CI
    machine. TUTORIAL_VERIFY_RUNS=1 skips the busy runs (about a third of the time)."""
    return int(env("TUTORIAL_VERIFY_RUNS", "3"))


class BusyLoops:
    """Two processes that spin for as long as the with-block lasts."""

    def __enter__(self):
        self.loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
        return self

    def __exit__(self, *_):
        for loop in self.loops:
            loop.kill()
            loop.wait()


def line(sign, exercise_id, text):
    out(f"{sign} {exercise_id}  {text}")


def apply(copy, patch, reverse=False):
    args = ["apply"] + (["-R"] if reverse else []) + [str(patch)]
    done = pristine.git(copy, *args).returncode == 0
    if reverse and not done:
        die(f"could not revert {patch} in {copy}: run verify-exercises again (the copy is re-synced)")
    return done


class Verifier:
    def __init__(self, copy, build, fixture, solutions):
        self.copy, self.build, self.fixture, self.solutions = copy, build, fixture, solutions
        self.log = tempfile.NamedTemporaryFile(delete=False).name

    def verdict(self, e, full=False):
        if full:
            return exercise_verdict(self.build, e, self.log, self.fixture)
        return checker_verdict(self.build, e, self.log, self.fixture)

    def reference_reruns(self, e, runs):
        """The reference's checker runs - 1 more times, beside two busy loops; how many
        passed (the log of a failed one is kept)."""
        passed, failed_log = 0, None
        with BusyLoops():
            for _ in range(runs - 1):
                if self.verdict(e) == PASS:
                    passed += 1
                else:
                    failed_log = read(self.log)
        return passed, failed_log

    def one(self, e):
        """Prints the exercise's lines; returns how many results differ from an honest one."""
        bad, start, runs = 0, time.monotonic(), verify_runs()
        verdict = self.verdict(e)
        sign = "✗" if verdict in (PASS, MISSING) else "✓"
        bad += sign == "✗"
        line(sign, e.id, f"{verdict_words(verdict)} on the pristine tree")
        reference = self.solutions / f"{e.id}.patch"
        if not reference.is_file() or not apply(self.copy, reference):
            line("✗", e.id, f"solutions/{e.id}.patch is missing or does not apply")
            bad += 1
        else:
            bad += self.with_reference(e, runs)
            apply(self.copy, reference, reverse=True)
        wrongs = sorted(self.solutions.glob(f"{e.id}.wrong-*.patch"))
        for wrong in wrongs:
            bad += self.anti_solution(e, wrong)
        if len(wrongs) < 2:
            line("!", e.id, f"has {len(wrongs)} anti-solution(s) (solutions/{e.id}.wrong-*.patch); the convention asks for 2")
        line(" ", e.id, f"({len(wrongs) + runs + 1} checker runs and the step's tests: "
                        f"{int(time.monotonic() - start)} s)")
        return bad

    def with_reference(self, e, runs):
        bad = 0
        verdict = self.verdict(e)
        if verdict == PASS:
            line("✓", e.id, "passes with its reference solution")
            if runs > 1:
                passed, failed_log = self.reference_reruns(e, runs)
                if passed == runs - 1:
                    line("✓", e.id, f"passes with its reference in {passed} more run(s) beside two busy loops")
                else:
                    line("✗", e.id, f"FAILS its reference in {runs - 1 - passed} of {runs - 1} run(s) beside two busy loops:")
                    for text in checker_words(failed_log or ""):
                        out(text)
                    bad += 1
        else:
            line("✗", e.id, f"{verdict_words(verdict)} with its reference solution:")
            for text in checker_words(read(self.log)) + compile_errors(read(self.log)):
                out(text)
            bad += 1
        if step_tests_pass(self.build, e.step, self.log, self.fixture):
            line("✓", e.id, f"step {e.step}'s tests still pass with the reference")
        else:
            line("✗", e.id, f"with the reference, step {e.step}'s tests fail:")
            for text in failed_tests(read(self.log)):
                out(text)
            bad += 1
        return bad

    def anti_solution(self, e, wrong):
        first = wrong.read_text(encoding="utf-8").split("\n", 1)[0]
        if not first.startswith("# wrong: "):
            line("✗", e.id, f"{wrong.name} does not begin with a line '# wrong: <the mistake>'")
            return 1
        mistake = first[len("# wrong: "):]
        if not apply(self.copy, wrong):
            line("✗", e.id, f"{wrong.name} does not apply (an anti-solution must fail its checker, not the patch)")
            return 1
        verdict = self.verdict(e, full=True)
        apply(self.copy, wrong, reverse=True)
        if verdict in (PASS, MISSING):  # no checker to fail is no proof that it fails
            line("✗", e.id, f"{'PASSES' if verdict == PASS else verdict_words(verdict)} with {wrong.name}: {mistake}")
            return 1
        line("✓", e.id, f"{verdict_words(verdict)} with {wrong.name}: {mistake}")
        return 0


def cmd_verify_exercises():
    solutions = solutions_dir()
    if solutions is None:
        refuse("no solutions/ in this tree (a course copy leaves it out): run verify-exercises in "
               "the tutorial's repository, or name your copy of them with TUTORIAL_SOLUTIONS")
    cmocka = system.setup()
    start = time.monotonic()
    folder = beside_build("TUTORIAL_VERIFY_DIR", "-verify")
    copy, build = folder / "src", folder / "build"
    say(f"copying the tree to {copy} (only the files that changed since the last run)")
    pristine.sync_files(ROOT, copy, pristine.tracked_files(ROOT))
    if not (copy / ".git").is_dir():  # its own repository: git apply there must not reach this one
        pristine.git(copy, "init", "-q")
    configure_tree(copy, build, cmocka)
    say(f"building the copy in {build}")
    build_tree(build)
    out(f"copied and built in {int(time.monotonic() - start)} s")
    fixture = system.start_shared_runner(build)
    try:
        say("every exercise: fails on the pristine tree, passes with its reference, fails with each anti-solution")
        verifier = Verifier(copy, build, fixture, solutions)
        rows = ex.selected_exercises(copy)
        failures = sum(verifier.one(e) for e in rows)
        os.unlink(verifier.log)
    finally:
        system.stop_shared_runner(build)
    out(f"{len(rows)} exercises verified in {int(time.monotonic() - start)} s")
    if failures:
        die(f"{failures} result(s) differ from what an honest exercise gives")
