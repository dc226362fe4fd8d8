"""For teachers: grading the students' trees (or their hand-ins) on a clean copy of the
tutorial, as many at once as there are cores."""
import datetime
import os
import queue
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import exercises as ex
import gradebook
import handin
import pristine
import system
from build import build_tree, configure_tree
from checker import FAIL, PASS, checker_words, exercise_verdict, read, verdict_words
from gradebook import Result, Student
from paths import ROOT, beside_build
from teacher import git_archive
from ui import out, refuse, say, usage_error


def make_reference_tree(dest):
    """The clean copy a grade starts from: git's HEAD, or the course copy's files as its
    manifest lists them (refused where one differs: an edited checker would decide grades)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    kind = pristine.source()
    if kind == pristine.GIT:
        git_archive(dest)
    elif kind == pristine.COURSE_COPY:
        for name, digest in pristine.manifest().items():
            origin = ROOT / ".pristine" / name
            origin = origin if origin.is_file() else ROOT / name
            if not origin.is_file() or pristine.sha256_of(origin) != digest:
                refuse("this course copy's files differ from its manifest (.pristine/MANIFEST.sha256): "
                       "grade from the tutorial's repository or from an unchanged course copy")
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, dest / name)
    else:
        refuse("grade needs the tutorial's git history or a course copy's .pristine/ to start from a clean copy")


def reference_version():
    if pristine.source() == pristine.GIT:
        return pristine.git(ROOT, "rev-parse", "HEAD", text=True).stdout.strip()
    version = ROOT / ".pristine" / "VERSION"
    return version.read_text().strip() if version.is_file() else ""


def warn_other_version(student, name):
    """A student's tree from a course copy of another commit: said, not refused."""
    version = student / ".pristine" / "VERSION"
    theirs = version.read_text().strip() if version.is_file() else ""
    ours = reference_version()
    if theirs and theirs != ours:
        say(f"warning: {name}'s tree was handed out from commit {theirs[:12]}, this grade checks against {ours[:12]}")


PREDICTED_DEFINE = re.compile(r"^#define PREDICTED_([A-Z0-9_]+(\([^)]*\))?)\s+(.*\S)\s*$")
PREDICTED_ASSIGNMENT = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*=\s*(.*\S)\s*$")


def hints_seen(student, exercise_id, reference):
    """"N of M" hint stages a student's .progress/ says were shown, or "" for none."""
    record = student / ".progress" / f"{exercise_id}.hint"
    try:
        shown = int(record.read_text(encoding="utf-8", errors="replace").strip() or 0) if record.is_file() else 0
    except ValueError:
        return ""
    path = ex.hint_file(exercise_id, reference)
    stages = len(ex.hint_stages(path)) if path else 0
    return f"{min(shown, stages) if stages else shown} of {stages}" if shown > 0 else ""


def student_prediction(student, exercise_id):
    """The first prediction a student recorded: (UTC time, "NAME = value; ..."), or ("", "")."""
    record = student / ".progress" / f"{exercise_id}.prediction"
    if not record.is_file():
        return "", ""
    recorded, values = "", []
    for line in record.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("recorded: ") and not recorded:
            recorded = line[len("recorded: "):]
        line = re.sub(r"/\*.*\*/", "", line)
        match = PREDICTED_DEFINE.match(line)
        if match:
            values.append(f"{match.group(1)} = {match.group(3)}")
            continue
        match = PREDICTED_ASSIGNMENT.match(re.sub(r"#.*", "", line))
        if match:
            values.append(f"{match.group(1)} = {match.group(2)}")
    return recorded, "; ".join(values)


def grade_one(student, e, src, build, reference, fixture):
    """Grades one student on one exercise in the clean copy: copies only the exercise's files
    from the student's tree, runs the checker (and the step's tests where needed), puts the
    clean files back. Returns a Result whose detail is the checker's own first words on a
    failure, or that it ran out of time."""
    copied = []
    for name in e.files:
        theirs = student / name
        if not theirs.is_file() or theirs.is_symlink():  # a link could point at anything
            continue
        if (reference / name).is_file() and theirs.read_bytes() == (reference / name).read_bytes():
            continue
        shutil.copyfile(theirs, src / name)  # a new time, so that the build compiles it
        copied.append(name)
    if not copied:
        return Result("not attempted")
    with tempfile.NamedTemporaryFile() as log:
        verdict = exercise_verdict(build, e, log.name, fixture)
        text = read(log.name)
    for name in copied:  # the clean copy again, for the next student
        if (reference / name).is_file():
            shutil.copyfile(reference / name, src / name)
        else:
            (src / name).unlink()
    if verdict == PASS:
        return Result("pass")
    if verdict == FAIL:
        return Result("fail", failure_words(text))
    return Result("fail", verdict_words(verdict))


def failure_words(log_text):
    """A failure in a few words: a timeout said as such, else the checker's first lines."""
    if "***Timeout" in log_text:
        return "its checker ran out of time (it waited for something that never came)"
    words = [w.strip() for w in checker_words(log_text)
             if w.strip() and not w.startswith("seed:")][:2]
    said = " / ".join(words)
    return (said[:237] + "...") if len(said) > 240 else (said or "the checker fails")


def parse_grade_args(args):
    """--csv FILE, --rubric FILE, --jobs N, then the students: folders, or the zips of
    ./tutorial submit."""
    csv_path, rubric, jobs, students = None, None, os.cpu_count() or 1, []
    while args:
        if args[0] in ("--csv", "--rubric", "--jobs"):
            if len(args) < 2:
                usage_error(f"{args[0]} needs a value")
            if args[0] == "--csv":
                csv_path = Path(args[1]).resolve()
            elif args[0] == "--jobs":
                if not re.fullmatch(r"[1-9][0-9]?", args[1]):
                    usage_error(f"--jobs takes how many students to grade at once, 1 to 99, not '{args[1]}'")
                jobs = int(args[1])
            else:
                rubric = Path(args[1]).resolve()
                if not rubric.is_file():
                    refuse(f"{args[1]} is not a file (--rubric takes the rubric's file)")
            args = args[2:]
            continue
        given = Path(args[0])
        if not given.is_dir() and not (given.is_file() and given.suffix == ".zip"):
            refuse(f"{args[0]} is neither a folder nor a .zip (grade takes the students' trees, "
                   "or the zips of ./tutorial submit)")
        students.append(given.resolve())
        args = args[1:]
    if not students:
        usage_error("grade needs the students' folders or hand-ins, e.g. ./tutorial grade submissions/*/")
    return csv_path, rubric, jobs, students


class Lane:
    """One clean copy and its build, where one student at a time is graded. Lanes run side
    by side, each with its own Wine server: a checker passes beside busy machines."""

    def __init__(self, grade_dir, number):
        suffix = "" if number == 0 else f"-{number + 1}"
        self.src, self.build = grade_dir / f"src{suffix}", grade_dir / f"build{suffix}"
        self.fixture = ()

    def prepare(self, reference, cmocka, build_now):
        pristine.sync_files(reference, self.src, pristine.all_files(reference))
        configure_tree(self.src, self.build, cmocka)
        if build_now:  # the others build what their checkers need, when they need it
            say("building the clean copy")
            build_tree(self.build)


def student_folders(given, grade_dir):
    """(name, folder) per student: a zip is unpacked under grade_dir/handins, and named
    like a folder, without its .zip."""
    names = gradebook.names_for([g.with_suffix("") if g.suffix == ".zip" else g for g in given])
    unpacked = grade_dir / "handins"
    shutil.rmtree(unpacked, ignore_errors=True)
    folders = []
    for name, path in zip(names, given):
        if path.is_dir():
            folders.append((name, path))
        else:
            folders.append((name, handin.unpack(path, unpacked / name)))
    return folders


def grade_student(s, exercises, lane, reference):
    say(f"grading {s.name}")
    warn_other_version(s.folder, s.name)
    for e in exercises:
        s.results[e.id] = grade_one(s.folder, e, lane.src, lane.build, reference, lane.fixture)
        s.predictions[e.id] = student_prediction(s.folder, e.id)
        s.hints[e.id] = hints_seen(s.folder, e.id, reference)
    s.flags = gradebook.flags_for(s, reference, exercises)


def grade_side_by_side(students, exercises, lanes, reference):
    """Each student in the first free lane; as many at once as there are lanes."""
    free = queue.Queue()
    for lane in lanes:
        lane.fixture = system.start_shared_runner(lane.build)
        free.put(lane)

    def in_a_free_lane(s):
        lane = free.get()
        try:
            grade_student(s, exercises, lane, reference)
        finally:
            free.put(lane)

    try:
        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            for finished in [pool.submit(in_a_free_lane, s) for s in students]:
                finished.result()  # a failure of the driver itself is raised here
    finally:
        for lane in lanes:
            system.stop_shared_runner(lane.build)


def cmd_grade(args):
    csv_path, rubric, jobs, given = parse_grade_args(args)
    grade_dir = beside_build("TUTORIAL_GRADE_DIR", "-grade")
    reference = grade_dir / "reference"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    csv_path = csv_path or ROOT / "grades" / f"grades-{stamp}.csv"  # clean keeps grades/
    cmocka = system.setup()
    lanes = [Lane(grade_dir, n) for n in range(min(jobs, len(given)))]
    say(f"making a clean copy of the tutorial in {lanes[0].src}" +
        (f", and {len(lanes) - 1} more to grade {len(lanes)} students at once" if len(lanes) > 1 else ""))
    make_reference_tree(reference)
    students = [Student(name, folder) for name, folder in student_folders(given, grade_dir)]
    for n, lane in enumerate(lanes):
        lane.prepare(reference, cmocka, build_now=(n == 0))
    exercises = ex.selected_exercises(lanes[0].src)
    points = gradebook.read_rubric(rubric or ROOT / "docs" / "rubric.tsv", exercises,
                                   [e.id for e in ex.all_exercises(lanes[0].src)])
    grade_side_by_side(students, exercises, lanes, reference)
    gradebook.write_csv(csv_path, students, exercises, points)
    gradebook.print_table(students, exercises, points)
    out()
    out(f"written to {csv_path}")
