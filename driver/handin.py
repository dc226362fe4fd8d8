"""Handing work in: the learner's submit packs what grade reads, and grade unpacks it.

A hand-in is a zip of:
- every exercise's files (grade copies the ones that differ from the clean copy);
- .progress/ without its backups (the marks and the first predictions);
- every file under NN-*/exercises/ and the files under common/ that differ from the tree as
  handed out, so that grade can flag an edited checker or table, as it does for a tree;
- .pristine/VERSION in a course copy (the commit it was made from), and HANDIN, which says
  who packed it and when.
Nothing else: not build/, not the rest of the tree, which grade takes from its clean copy.
"""
import datetime
import getpass
import re
import zipfile
from pathlib import Path

import exercises as ex
import pristine
from paths import ROOT, progress_dir
from ui import out, refuse, say, usage_error

HANDIN_DIR = ROOT / "handin"  # .gitignore'd; clean keeps it
LARGEST_HANDIN = 50 * 1024 * 1024  # bytes unpacked: a hand-in is text files
FOLDER_OF_STEP = re.compile(r"^0[1-8]-[a-z0-9-]+/exercises/")


def learner_name():
    """The name on the hand-in: git's user.name where there is one, else the login."""
    named = pristine.git(ROOT, "config", "user.name", text=True)
    name = named.stdout.strip() if named.returncode == 0 else ""
    return name or getpass.getuser()


def file_name_part(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "learner"


def files_to_hand_in(root=ROOT):
    names = set()
    for e in ex.all_exercises(root):
        names.update(n for n in e.files if (root / n).is_file())
    every = pristine.all_files(root, leave_out=("build", ".git", "handin", "grades"))
    common = [n for n in every if n.startswith("common/")]
    names.update(set(common) - pristine.unchanged(common, root))
    for name in every:
        if FOLDER_OF_STEP.match(name):
            names.add(name)
        elif name.startswith(".progress/") and not name.startswith(".progress/backups/"):
            names.add(name)
    if (root / ".pristine" / "VERSION").is_file():
        names.add(".pristine/VERSION")
    return sorted(names)


def cmd_submit(args):
    name = None
    while args:
        if args[0] == "--name" and len(args) > 1:
            name, args = args[1], args[2:]
        else:
            usage_error(f"submit takes only --name NAME (the name on the hand-in), not '{args[0]}'")
    if not any(ROOT.glob("0[1-8]-*/exercises/exercises.tsv")):
        refuse("submit packs a tutorial tree: this one has no NN-*/exercises/exercises.tsv")
    name = name or learner_name()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = HANDIN_DIR / f"{file_name_part(name)}-{stamp}.zip"
    names = files_to_hand_in()
    HANDIN_DIR.mkdir(exist_ok=True)
    done = sorted(p.stem for p in progress_dir().glob("*.done"))
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as packed:
        packed.writestr("HANDIN", f"name: {name}\npacked: {stamp}\nfiles: {len(names)}\n"
                                  f"done: {' '.join(done) or 'none'}\n")
        for relative in names:
            packed.write(ROOT / relative, relative)
    say(f"packed {len(names)} files into {target.relative_to(ROOT).as_posix()} "
        f"({target.stat().st_size // 1024 + 1} KiB)")
    out(f"done, as far as this tree's .progress/ says: {', '.join(done) or 'none yet'}")
    out("Hand in that file. Your teacher's ./tutorial grade runs every checker on it again,"
        " on a clean copy of the course.")


def safe_member(info):
    """A member grade may write: a plain relative path, nothing above the folder."""
    parts = Path(info.filename).parts
    return not (info.is_dir() or info.filename.startswith(("/", "\\")) or ".." in parts
                or ":" in info.filename or not parts)


def unpack(archive, dest):
    """A hand-in's files under dest, or a refusal that names the archive's problem."""
    try:
        with zipfile.ZipFile(archive) as packed:
            members = packed.infolist()
            if sum(m.file_size for m in members) > LARGEST_HANDIN:
                refuse(f"{archive} unpacks to more than {LARGEST_HANDIN // 2**20} MiB: "
                       "not a hand-in of ./tutorial submit")
            for member in members:
                if safe_member(member):
                    target = dest / member.filename
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(packed.read(member))
    except zipfile.BadZipFile:
        refuse(f"{archive} is not a zip file (grade takes folders, or the zips of ./tutorial submit)")
    return dest
