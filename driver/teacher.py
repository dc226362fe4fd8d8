"""For teachers: the course copy to hand out (grading is in grading.py)."""
import io
import re
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


def later_steps(through):
    """git pathspecs that leave out the steps after through, with their chapters: a step's
    code answers the exercises before it (step 07 is the fix of 06.2)."""
    later = [f"0{n}" for n in range(int(through) + 1, 9)]
    return [f":(exclude){n}-*" for n in later] + [f":(exclude)docs/{n}-*" for n in later]


def leave_out_pages_quoting(dest, through):
    """A page that quotes a left-out step's code is left out with it: the field guide quotes
    step 07's server. Returns the pages left out."""
    later = tuple(f"<!-- snippet: 0{n}-" for n in range(int(through) + 1, 9))
    left_out = []
    for page in sorted((dest / "docs").glob("*.md")):
        if later and any(marker in page.read_text(encoding="utf-8") for marker in later):
            page.unlink()
            left_out.append(page.relative_to(dest).as_posix())
    return left_out


def say_what_comes_later(readme, through):
    """A copy --through NN says so under the README's title: its links to later chapters do
    not work yet."""
    if not readme.is_file():
        return
    title, _, rest = readme.read_text(encoding="utf-8").partition("\n")
    note = (f"> This course copy has steps 01 to {through}. The later steps and their chapters come"
            " later in the course: until then, links to them do not work.")
    readme.write_text(f"{title}\n\n{note}\n{rest}", encoding="utf-8")


def parse_course_copy_args(args):
    through = "08"
    if args[:1] == ["--through"]:
        if len(args) < 2 or not re.fullmatch(r"0[1-8]", args[1]):
            usage_error("--through takes the last step to hand out, 01 to 08, e.g. --through 06")
        through, args = args[1], args[2:]
    if len(args) != 1:
        usage_error("course-copy needs the folder to make, e.g. ./tutorial course-copy ../course"
                    " (or --through 06 ../course: steps 01 to 06 only)")
    return through, Path(args[0])


def cmd_course_copy(args):
    through, dest = parse_course_copy_args(args)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        refuse(f"{dest} exists and is not an empty folder")
    if pristine.source() != pristine.GIT:
        refuse("course-copy copies git's HEAD: run it in a clone of the tutorial")
    if pristine.git(ROOT, "status", "--porcelain", "--untracked-files=no").stdout.strip():
        say("this tree has changes that are not committed: the copy has HEAD's files, without them")
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    git_archive(dest, ".", ":(exclude)solutions", *later_steps(through))  # solutions/ stays with the teacher
    keep_progress_in_git(dest)
    pages_left_out = leave_out_pages_quoting(dest, through)
    if through != "08":
        say_what_comes_later(dest / "README.md", through)
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
    if through != "08":
        say(f"steps 01 to {through} only, with their chapters; also left out, for quoting a later step: "
            f"{', '.join(pages_left_out) or 'nothing'}. To hand out the rest later, make a new copy from the"
            " same commit (docs/teaching.md, \"The course loop\", says how to hand it out).")


def keep_progress_in_git(dest):
    """In a course copy, .progress/ is not ignored: a student who hands in through git hands
    in the first predictions too (the tutorial's own repository ignores it)."""
    ignore = dest / ".gitignore"
    if ignore.is_file():
        kept = [l for l in ignore.read_text(encoding="utf-8").splitlines() if l.strip() != "/.progress/"]
        ignore.write_text("\n".join(kept) + "\n", encoding="utf-8")
