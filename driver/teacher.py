"""For teachers: the course copy to hand out, and grading the students' trees."""
import datetime
import io
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

import exercises as ex
import gradebook
import pristine
import system
from build import build_tree, configure_tree
from checker import FAIL, PASS, checker_words, exercise_verdict, read, verdict_words
from gradebook import Result, Student
from paths import ROOT, beside_build
from ui import out, refuse, say, usage_error

PRISTINE_README = """The exercise files as they were handed out. ./tutorial reset NN.K restores an exercise's
files from here; MANIFEST.sha256 holds the hash of every file of the course copy, which
reset and ./tutorial grade check (a file changed here is refused). VERSION is the commit
the copy was made from: grade warns about a student's tree made from another one.
"""


def git_archive(dest, *pathspec):
    """git's HEAD, unpacked into dest."""
    archive = pristine.git(ROOT, "archive", "--format=tar", "HEAD", "--", *(pathspec or (".",)))
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest)


def write_manifest(dest):
    pristine_dir = dest / ".pristine"
    lines = [f"{pristine.sha256_of(dest / name)}  {name}"
             for name in pristine.all_files(dest, leave_out=(".pristine",))]
    (pristine_dir / "MANIFEST.sha256").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def cmd_course_copy(args):
    if len(args) != 1:
        usage_error("course-copy needs the folder to make, e.g. ./tutorial course-copy ../course")
    dest = Path(args[0])
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        refuse(f"{args[0]} exists and is not an empty folder")
    if pristine.source() != pristine.GIT:
        refuse("course-copy copies git's HEAD: run it in a clone of the tutorial")
    if pristine.git(ROOT, "status", "--porcelain", "--untracked-files=no").stdout.strip():
        say("this tree has changes that are not committed: the copy has HEAD's files, without them")
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    git_archive(dest, ".", ":(exclude)solutions")  # solutions/ stays with the teacher
    keep_progress_in_git(dest)
    count = 0
    for e in ex.all_exercises(dest):
        for name in e.files:
            kept = dest / ".pristine" / name
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(dest / name, kept)
            count += 1
    (dest / ".pristine" / "README").write_text(PRISTINE_README, encoding="utf-8")
    head = pristine.git(ROOT, "rev-parse", "HEAD", text=True).stdout.strip()
    (dest / ".pristine" / "VERSION").write_text(head + "\n", encoding="utf-8")
    files = write_manifest(dest)
    say(f"course copy in {dest}: {files} files, no .git, no solutions/, {count} exercise files kept in .pristine/")


def keep_progress_in_git(dest):
    """In a course copy, .progress/ is not ignored: a student who hands in through git hands
    in the first predictions too (the tutorial's own repository ignores it)."""
    ignore = dest / ".gitignore"
    if ignore.is_file():
        kept = [l for l in ignore.read_text(encoding="utf-8").splitlines() if l.strip() != "/.progress/"]
        ignore.write_text("\n".join(kept) + "\n", encoding="utf-8")


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
    return " / ".join(words)[:240] or "the checker fails"


def parse_grade_args(args):
    csv_path, rubric, students = None, None, []
    while args:
        if args[0] in ("--csv", "--rubric"):
            if len(args) < 2:
                usage_error(f"{args[0]} needs a file name")
            if args[0] == "--csv":
                csv_path = Path(args[1]).resolve()
            else:
                rubric = Path(args[1]).resolve()
                if not rubric.is_file():
                    refuse(f"{args[1]} is not a file (--rubric takes the rubric's file)")
            args = args[2:]
            continue
        if not Path(args[0]).is_dir():
            refuse(f"{args[0]} is not a folder (grade takes the students' trees)")
        students.append(Path(args[0]).resolve())
        args = args[1:]
    if not students:
        usage_error("grade needs the students' folders, e.g. ./tutorial grade submissions/*/")
    return csv_path, rubric, students


def cmd_grade(args):
    csv_path, rubric, folders = parse_grade_args(args)
    grade_dir = beside_build("TUTORIAL_GRADE_DIR", "-grade")
    reference, src, build = grade_dir / "reference", grade_dir / "src", grade_dir / "build"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    csv_path = csv_path or ROOT / "grades" / f"grades-{stamp}.csv"  # clean keeps grades/
    cmocka = system.setup()
    say(f"making a clean copy of the tutorial in {src}")
    make_reference_tree(reference)
    pristine.sync_files(reference, src, pristine.all_files(reference))
    configure_tree(src, build, cmocka)
    say("building the clean copy")
    build_tree(build)
    exercises = ex.selected_exercises(src)
    points = gradebook.read_rubric(rubric or ROOT / "docs" / "rubric.tsv", exercises,
                                   [e.id for e in ex.all_exercises(src)])
    students = [Student(name, folder) for name, folder in zip(gradebook.names_for(folders), folders)]
    fixture = system.start_shared_runner(build)
    try:
        for s in students:
            say(f"grading {s.name}")
            warn_other_version(s.folder, s.name)
            for e in exercises:
                s.results[e.id] = grade_one(s.folder, e, src, build, reference, fixture)
                s.predictions[e.id] = student_prediction(s.folder, e.id)
            s.flags = gradebook.flags_for(s, reference, exercises)
    finally:
        system.stop_shared_runner(build)
    gradebook.write_csv(csv_path, students, exercises, points)
    gradebook.print_table(students, exercises, points)
    out()
    out(f"written to {csv_path}")
