"""Grading: what is copied from a student's tree, the first predictions, and the table."""
import csv
import io
import shutil
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import exercises  # noqa: E402
import gradebook  # noqa: E402
import grading  # noqa: E402
from gradebook import Result, Student  # noqa: E402

EXERCISE = exercises.parse_row("04.1\textend\tBatches\t04-x/src/a.c 04-x/src/b.c\tstep-tests\n")


class Folders(unittest.TestCase):
    def setUp(self):
        self.work = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.work, True)
        for tree in ("student", "src", "reference"):
            for name in EXERCISE.files:
                path = self.work / tree / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("handed out\n")

    def grade(self, verdict="pass", log_text=""):
        seen = {}

        def fake_verdict(build, e, log, fixture):
            seen["a.c"] = (self.work / "src" / "04-x/src/a.c").read_text()
            Path(log).write_text(log_text)
            return verdict

        with mock.patch.object(grading, "exercise_verdict", fake_verdict):
            result = grading.grade_one(self.work / "student", EXERCISE, self.work / "src",
                                       self.work / "build", self.work / "reference", [])
        return result, seen

    def test_an_exercise_left_as_handed_out_is_not_attempted(self):
        self.assertEqual(self.grade()[0], Result("not attempted"))

    def test_the_students_files_are_checked_in_the_clean_copy_then_put_back(self):
        (self.work / "student/04-x/src/a.c").write_text("the student's\n")
        result, seen = self.grade("fail", "1: [ RUN      ] t\n1: expected 3 packets, got 2\n")
        self.assertEqual(result, Result("fail", "expected 3 packets, got 2"))
        self.assertEqual(seen["a.c"], "the student's\n")
        self.assertEqual((self.work / "src/04-x/src/a.c").read_text(), "handed out\n")

    @unittest.skipIf(sys.platform == "win32", "making a link needs a privilege on Windows")
    def test_a_link_in_a_students_tree_is_not_followed(self):
        (self.work / "student/04-x/src/a.c").unlink()
        (self.work / "student/04-x/src/a.c").symlink_to("/etc/hostname")
        self.assertEqual(self.grade()[0], Result("not attempted"))

    def test_a_checker_that_ran_out_of_time_is_said_to(self):
        (self.work / "student/04-x/src/a.c").write_text("x")
        log = "1/1 Test #9: exercise.04.1 ......***Timeout 120.01 sec\n"
        self.assertIn("ran out of time", self.grade("fail", log)[0].detail)

    def test_a_verdict_other_than_pass_or_fail_is_named(self):
        (self.work / "student/04-x/src/b.c").write_text("x")
        self.assertEqual(self.grade("no-build")[0], Result("fail", "fails (does not compile)"))


class Predictions(unittest.TestCase):
    def test_a_recorded_prediction_reads_as_names_and_values(self):
        student = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, student, True)
        (student / ".progress").mkdir()
        (student / ".progress" / "03.1.prediction").write_text(
            "# The first prediction checked for exercise 03.1, kept by ./tutorial check.\n"
            "recorded: 2026-12-07T01:02:03Z\n==> 03-apc/exercises/prediction_03_1.txt <==\n"
            "# how many routines one wait runs\nroutines_per_wait = queued  # all of them\n"
            "#define PREDICTED_SLEEPS(n) (n) /* old style */\n")
        self.assertEqual(grading.student_prediction(student, "03.1"),
                         ("2026-12-07T01:02:03Z", "routines_per_wait = queued; SLEEPS(n) = (n)"))
        self.assertEqual(grading.student_prediction(student, "04.1"), ("", ""))


class Gradebook(unittest.TestCase):
    EXERCISES = [exercises.parse_row("01.1\textend\tA\t01-x/a.c\n"),
                 exercises.parse_row("03.1\tpredict\tB\t03-x/p.txt\n")]

    def setUp(self):
        self.work = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.work, True)

    def students(self):
        alice = Student("secA/alice", self.work / "secA/alice",
                        {"01.1": Result("pass"), "03.1": Result("fail", "predicted 1, measured 2")},
                        ["edited checker or test file: 01-x/exercises/test.c"],
                        {"03.1": ("2026-12-07T01:02:03Z", "x = 1")}, {"01.1": "2 of 3", "03.1": ""})
        bob = Student("secB/alice", self.work / "secB/alice",
                      {"01.1": Result("not attempted"), "03.1": Result("pass")}, [], {})
        return [alice, bob]

    def test_two_students_of_the_same_name_in_two_folders_stay_two(self):
        names = gradebook.names_for([self.work / "secA" / "alice", self.work / "secB" / "alice"])
        self.assertEqual(names, ["secA/alice", "secB/alice"])
        self.assertEqual(gradebook.names_for([self.work / "secA" / "alice"]), ["alice"])

    def test_the_rubric_gives_points_and_the_kinds_defaults_fill_in(self):
        rubric = self.work / "rubric.tsv"
        rubric.write_text("# points\n01.1\t7  # a comment\n")
        self.assertEqual(gradebook.read_rubric(rubric, self.EXERCISES), {"01.1": 7, "03.1": 2})
        self.assertEqual(gradebook.read_rubric(None, self.EXERCISES), {"01.1": 5, "03.1": 2})
        rubric.write_text("01.1 7\n08.2 3\n")  # 08.2: of the course, not graded this time
        self.assertEqual(gradebook.read_rubric(rubric, self.EXERCISES, ["01.1", "03.1", "08.2"]),
                         {"01.1": 7, "03.1": 2})
        rubric.write_text("01.1 7\n07.4 9\n")  # 07.4: a step a course copy --through 06 leaves out
        self.assertEqual(gradebook.read_rubric(rubric, self.EXERCISES, ["01.1", "03.1"]),
                         {"01.1": 7, "03.1": 2})

    def test_a_rubric_line_that_is_not_an_exercise_and_points_is_refused(self):
        from ui import Stop
        rubric = self.work / "rubric.tsv"
        for line in ("09.9 4\n", "# a typo in a step the course has\n01.7 4\n"):
            rubric.write_text(line)
            with self.assertRaises(Stop) as refused:
                gradebook.read_rubric(rubric, self.EXERCISES)
            self.assertEqual(refused.exception.status, 2)
            self.assertIn("rubric.tsv:", refused.exception.message)

    def test_the_csv_is_a_gradebook_one_row_per_student_with_points_and_total(self):
        path = self.work / "grades.csv"
        gradebook.write_csv(path, self.students(), self.EXERCISES, {"01.1": 5, "03.1": 2})
        rows = list(csv.reader(path.read_text().splitlines()))
        self.assertEqual(rows[0][:6], ["student", "total", "out of", "flags", "ex 01.1 (5 pts)", "ex 03.1 (2 pts)"])
        self.assertEqual(rows[1][:6], ["secA/alice", "5", "7", "edited checker or test file: 01-x/exercises/test.c", "5", "0"])
        self.assertEqual(rows[1][6], "03.1: fail - predicted 1, measured 2")
        self.assertEqual(rows[1][7], "03.1 at 2026-12-07T01:02:03Z: x = 1")
        self.assertEqual((rows[0][8], rows[1][8], rows[2][8]), ("hints seen", "01.1: 2 of 3", ""))
        self.assertEqual(rows[2][:6], ["secB/alice", "2", "7", "", "0", "2"])
        self.assertEqual(len(rows), 3)

    def test_the_hint_stages_a_student_saw_are_read_from_progress(self):
        student, reference = self.work / "secA" / "carol", self.work / "reference"
        (reference / "04-x" / "exercises" / "hints").mkdir(parents=True)
        (reference / "04-x" / "exercises" / "hints" / "04.1.md").write_text("one\n---\ntwo\n---\nthree\n")
        (student / ".progress").mkdir(parents=True)
        (student / ".progress" / "04.1.hint").write_text("2\n")
        self.assertEqual(grading.hints_seen(student, "04.1", reference), "2 of 3")
        self.assertEqual(grading.hints_seen(student, "04.2", reference), "")
        (student / ".progress" / "04.1.hint").write_text("many\n")
        self.assertEqual(grading.hints_seen(student, "04.1", reference), "")

    def test_a_cell_that_reads_as_a_number_is_kept_as_text(self):
        self.assertEqual(gradebook.as_text("0012"), '="0012"')
        self.assertEqual(gradebook.as_text('say "hi"'), '"say ""hi"""')

    def test_the_table_shows_points_totals_and_flags(self):
        shown = io.StringIO()
        with redirect_stdout(shown):
            gradebook.print_table(self.students(), self.EXERCISES, {"01.1": 5, "03.1": 2})
        lines = shown.getvalue().splitlines()
        self.assertIn("secA/alice      5  FAIL   5/7  (flagged)", lines)
        self.assertIn("secB/alice      -     2   2/7", lines)
        self.assertIn("flag: secA/alice: edited checker or test file: 01-x/exercises/test.c", lines)


class Flags(unittest.TestCase):
    def setUp(self):
        self.work = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.work, True)
        for tree in ("student", "reference"):
            for name, text in (("01-x/exercises/exercises.tsv", "01.1\textend\tA\t01-x/a.c\n"),
                               ("01-x/exercises/test_01_1.c", "checks\n"), ("01-x/a.c", "mine\n")):
                (self.work / tree / name).parent.mkdir(parents=True, exist_ok=True)
                (self.work / tree / name).write_text(text)
        self.exercises = exercises.all_exercises(self.work / "reference")

    def flags(self, status="fail"):
        student = Student("s", self.work / "student", {"01.1": Result(status)})
        return gradebook.flags_for(student, self.work / "reference", self.exercises)

    def test_an_untouched_tree_has_no_flags(self):
        self.assertEqual(self.flags(), [])

    def test_an_edited_checker_and_table_are_flagged(self):
        (self.work / "student/01-x/exercises/test_01_1.c").write_text("always passes\n")
        (self.work / "student/01-x/exercises/exercises.tsv").write_text("01.1\textend\tA\tnothing\n")
        self.assertEqual(self.flags(), ["edited exercise table: 01-x/exercises/exercises.tsv",
                                        "edited checker or test file: 01-x/exercises/test_01_1.c"])

    def test_a_planted_done_mark_is_flagged(self):
        (self.work / "student/.progress").mkdir()
        (self.work / "student/.progress/01.1.done").touch()
        self.assertEqual(self.flags("fail"), ["progress marks 01.1 done, but its checker does not pass"])
        self.assertEqual(self.flags("pass"), [])

    def test_a_folder_that_is_not_the_course_is_flagged(self):
        shutil.rmtree(self.work / "student/01-x")
        self.assertEqual(self.flags(), ["not a tutorial tree: no NN-*/exercises/exercises.tsv in it"])


if __name__ == "__main__":
    unittest.main()
