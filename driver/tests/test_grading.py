"""Grading: what is copied from a student's tree, the first predictions, and the table."""
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
import teacher  # noqa: E402

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

    def grade(self, verdict="pass"):
        seen = {}

        def fake_verdict(build, e, log, fixture):
            seen["a.c"] = (self.work / "src" / "04-x/src/a.c").read_text()
            return verdict

        with mock.patch.object(teacher, "exercise_verdict", fake_verdict):
            result = teacher.grade_one(self.work / "student", EXERCISE, self.work / "src",
                                       self.work / "build", self.work / "reference", [])
        return result, seen

    def test_an_exercise_left_as_handed_out_is_not_attempted(self):
        self.assertEqual(self.grade()[0], ("not attempted", ""))

    def test_the_students_files_are_checked_in_the_clean_copy_then_put_back(self):
        (self.work / "student/04-x/src/a.c").write_text("the student's\n")
        result, seen = self.grade("fail")
        self.assertEqual(result, ("fail", "the checker fails"))
        self.assertEqual(seen["a.c"], "the student's\n")
        self.assertEqual((self.work / "src/04-x/src/a.c").read_text(), "handed out\n")

    @unittest.skipIf(sys.platform == "win32", "making a link needs a privilege on Windows")
    def test_a_link_in_a_students_tree_is_not_followed(self):
        (self.work / "student/04-x/src/a.c").unlink()
        (self.work / "student/04-x/src/a.c").symlink_to("/etc/hostname")
        self.assertEqual(self.grade()[0], ("not attempted", ""))

    def test_a_verdict_other_than_pass_or_fail_is_named(self):
        (self.work / "student/04-x/src/b.c").write_text("x")
        self.assertEqual(self.grade("no-build")[0], ("fail", "fails (does not compile)"))


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
        self.assertEqual(teacher.student_prediction(student, "03.1"),
                         ("2026-12-07T01:02:03Z", "routines_per_wait = queued; SLEEPS(n) = (n)"))
        self.assertEqual(teacher.student_prediction(student, "04.1"), ("", ""))


class Table(unittest.TestCase):
    def test_one_row_per_student_and_the_predictions_after(self):
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder, True)
        csv_path = folder / "grades.csv"
        csv_path.write_text(
            '"student","exercise","kind","result","detail","first prediction (UTC)","first prediction"\n'
            '"alice",01.1,"extend",pass,"","",""\n"alice",03.1,"predict",fail,"the checker fails","t","x = 1"\n'
            '"bob",01.1,"extend",not attempted,"","",""\n')
        shown = io.StringIO()
        with redirect_stdout(shown):
            teacher.print_grades(csv_path, ["01.1", "03.1"])
        lines = shown.getvalue().splitlines()
        self.assertIn("alice     pass  FAIL", lines)
        self.assertIn("bob          -     ?", lines)
        self.assertIn("  alice    03.1  t  x = 1", lines)

    def test_csv_fields_are_quoted_with_their_quotes_doubled(self):
        self.assertEqual(teacher.quote('say "hi"'), '"say ""hi"""')


if __name__ == "__main__":
    unittest.main()
