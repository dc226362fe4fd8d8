"""Hand-ins: what submit packs and leaves out, how grade unpacks a zip and names it, and
students graded side by side, one at a time in each lane."""
import sys
import threading
import zipfile
from pathlib import Path
from unittest import mock

from fake_tree import FakeTreeTest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import grading  # noqa: E402
import handin  # noqa: E402
from gradebook import Student  # noqa: E402
from ui import Stop  # noqa: E402


class Submit(FakeTreeTest):
    def packed(self, output):
        archives = sorted((self.tree / "handin").glob("*.zip"))
        self.assertEqual(len(archives), 1, output)
        with zipfile.ZipFile(archives[0]) as z:
            return archives[0].name, set(z.namelist()), z.read("HANDIN").decode()

    def test_submit_packs_the_exercises_and_progress_and_nothing_else(self):
        self.write("01-one/exercises/answer.h", "#define PREDICTED_ANSWER 3\n")
        self.write(".progress/01.1.done", "")
        self.write(".progress/backups/01.1/answer.h", "an older try\n")
        self.write("01-one/src/server.c", "int the_rest_of_the_tree;\n")
        self.write("build/mingw-wine/big.o", "object code\n")
        self.git("add", "01-one/src/server.c")
        self.git("-c", "user.name=test", "-c", "user.email=t@example.invalid", "commit", "-qm", "src")
        status, output = self.tutorial("submit", "--name", "Ada Lovelace")
        self.assertEqual(status, 0, output)
        name, names, note = self.packed(output)
        self.assertTrue(name.startswith("Ada-Lovelace-") and name.endswith(".zip"), name)
        self.assertIn("01-one/exercises/answer.h", names)
        self.assertIn("01-one/exercises/exercises.tsv", names)  # so grade can flag an edit
        self.assertIn(".progress/01.1.done", names)
        self.assertIn("done: 01.1", note)
        for left_out in ("01-one/src/server.c", "build/mingw-wine/big.o",
                         ".progress/backups/01.1/answer.h", "driver/__main__.py"):
            self.assertNotIn(left_out, names)

    def test_an_edited_file_of_common_goes_with_it_and_an_unedited_one_does_not(self):
        self.write("common/kit.c", "int kit;\n")
        self.write("common/same.c", "int same;\n")
        self.git("add", "common")
        self.git("-c", "user.name=test", "-c", "user.email=t@example.invalid", "commit", "-qm", "common")
        self.write("common/kit.c", "int kit = 1; /* edited */\n")
        status, output = self.tutorial("submit", "--name", "bob")
        self.assertEqual(status, 0, output)
        names = self.packed(output)[1]
        self.assertIn("common/kit.c", names)
        self.assertNotIn("common/same.c", names)

    def test_a_wrong_flag_is_refused_with_status_2(self):
        for args in (["submit", "--nam", "x"], ["submit", "--name"], ["submit", "extra"]):
            with self.subTest(args=args):
                status, output = self.tutorial(*args)
                self.assertEqual(status, 2, output)
                self.assertIn("usage", output)


class Unpack(FakeTreeTest):
    def zip_of(self, name, members):
        path = self.work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w") as z:
            for member, text in members.items():
                z.writestr(member, text)
        return path

    def test_nothing_is_written_outside_the_students_folder(self):
        archive = self.zip_of("in/alice.zip", {"01-one/exercises/answer.h": "ok\n",
                                               "../escaped.txt": "no\n", "/abs.txt": "no\n"})
        dest = self.work / "out" / "alice"
        handin.unpack(archive, dest)
        self.assertEqual((dest / "01-one/exercises/answer.h").read_text(), "ok\n")
        self.assertFalse((self.work / "out" / "escaped.txt").exists())
        self.assertFalse(Path("/abs.txt").exists())

    def test_a_file_that_is_not_a_zip_is_refused(self):
        fake = self.work / "bob.zip"
        fake.write_text("not a zip")
        with self.assertRaises(Stop):
            handin.unpack(fake, self.work / "out")

    def test_two_hand_ins_of_the_same_name_stay_two(self):
        a = self.zip_of("subs/secA/alice.zip", {"x.txt": "a\n"})
        b = self.zip_of("subs/secB/alice.zip", {"x.txt": "b\n"})
        folders = grading.student_folders([a, b], self.work / "grade")
        self.assertEqual([name for name, _ in folders], ["secA/alice", "secB/alice"])
        self.assertEqual([(f / "x.txt").read_text() for _, f in folders], ["a\n", "b\n"])

    def test_grade_takes_folders_and_zips_and_jobs_and_refuses_the_rest(self):
        archive = self.zip_of("subs/carol.zip", {"x.txt": "c\n"})
        other = self.work / "notes.txt"
        other.write_text("hello")
        status, output = self.tutorial("grade", "--jobs", "0", str(archive))
        self.assertEqual(status, 2, output)
        self.assertIn("--jobs", output)
        status, output = self.tutorial("grade", str(other))
        self.assertEqual(status, 2, output)
        self.assertIn("neither a folder nor a .zip", output)
        _, _, jobs, students = grading.parse_grade_args(["--jobs", "3", str(archive), str(self.tree)])
        self.assertEqual((jobs, students), (3, [archive.resolve(), self.tree.resolve()]))


class SideBySide(FakeTreeTest):
    def test_each_lane_grades_one_student_at_a_time_and_all_lanes_are_used(self):
        lanes = [grading.Lane(self.work, n) for n in range(2)]
        students = [Student(f"s{n}", self.work / f"s{n}") for n in range(5)]
        busy, seen, lock = {}, [], threading.Lock()
        both_at_once = threading.Barrier(2, timeout=10)

        def fake_grade(s, exercises, lane, reference):
            with lock:
                self.assertNotIn(lane.build, busy, "a lane graded two students at once")
                busy[lane.build] = s.name
                seen.append((s.name, lane.build))
            if s.name in ("s0", "s1"):
                both_at_once.wait()  # the first two only finish once both have started
            with lock:
                del busy[lane.build]

        with mock.patch.object(grading, "grade_student", fake_grade), \
                mock.patch.object(grading.system, "start_shared_runner", lambda build: ()), \
                mock.patch.object(grading.system, "stop_shared_runner", lambda build: None):
            grading.grade_side_by_side(students, [], lanes, self.work / "reference")
        self.assertEqual(sorted(name for name, _ in seen), [f"s{n}" for n in range(5)])
        self.assertEqual({build for _, build in seen}, {lane.build for lane in lanes})
        self.assertEqual([lane.build.name for lane in lanes], ["build", "build-2"])
