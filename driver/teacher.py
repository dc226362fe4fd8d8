"""For teachers: the course copy to hand out (grading is in grading.py)."""
import io
import shutil
import tarfile
from pathlib import Path

import exercises as ex
import pristine
from paths import ROOT
from ui import refuse, say, usage_error

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
