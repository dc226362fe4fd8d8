#!/usr/bin/env bash
# The tutorial script's own test (ctest: tools.tutorial_script), on a small fake tutorial
# made in a temporary folder: the exercise commands refuse what they cannot do with status
# 2; hints come one stage at a time; reset restores from a course copy without .git, and
# refuses when it cannot; old progress marks move to .progress/, which clean keeps; a
# checker that is not registered does not read as a pass. It builds nothing and runs no
# Wine: a few seconds.
set -euo pipefail
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The fake tree must not use the caller's build folders.
unset TUTORIAL_BUILD_DIR TUTORIAL_VERIFY_DIR TUTORIAL_GRADE_DIR TUTORIAL_STEPS

failures=0
expect() { # status description command...
  local want=$1 what=$2 got=0
  shift 2
  "$@" >"$WORK/out" 2>&1 || got=$?
  if [ "$got" = "$want" ]; then
    echo "ok: $what"
  else
    echo "FAIL: $what: status $got, expected $want"
    sed 's/^/    /' "$WORK/out"
    failures=$((failures + 1))
  fi
}
expect_output() { # pattern description (about the last command's output)
  if grep -qE "$1" "$WORK/out"; then echo "ok: $2"; else
    echo "FAIL: $2: no line matches '$1' in:"; sed 's/^/    /' "$WORK/out"; failures=$((failures + 1))
  fi
}

# A tutorial with one step and one exercise, in its own git repository.
TREE=$WORK/tutorial
mkdir -p "$TREE/01-one/exercises/hints" "$TREE/docs"
cp "$SOURCE/tutorial" "$TREE/"
printf '01.1\tpredict\tA first guess\t01-one/exercises/answer.h\n' >"$TREE/01-one/exercises/exercises.tsv"
echo '#define PREDICTED_ANSWER (-1)' >"$TREE/01-one/exercises/answer.h"
printf 'The rule.\n---\nCloser.\n' >"$TREE/01-one/exercises/hints/01.1.md"
printf '# Chapter 1\n\n### 01.1 — A first guess (predict)\n' >"$TREE/docs/01-one.md"
git -C "$TREE" init -q
git -C "$TREE" add .
git -C "$TREE" -c user.name=test -c user.email=test@example.invalid commit -qm tree
cd "$TREE"

for bad in "check" "check 99.1" "check 01.9" "check 1.1" "hint 01.9" "reset 01.2" "watch 07.7"; do
  # shellcheck disable=SC2086 # the command and its arguments, split on purpose
  expect 2 "./tutorial $bad is refused with status 2" ./tutorial $bad
done
expect 2 "grade without a folder is refused" ./tutorial grade
expect 2 "grade of a folder that does not exist is refused" ./tutorial grade "$WORK/nobody"
expect 2 "course-copy into a folder that is not empty is refused" ./tutorial course-copy "$TREE/docs"

expect 0 "hint, first stage" ./tutorial hint 01.1
expect_output '^Hint 1 of 2' "the first stage says which of how many"
expect_output '^The rule\.$' "the first stage is the file's first part"
expect 0 "hint, second stage" ./tutorial hint 01.1
expect_output '^Closer\.$' "the second stage follows"
expect 0 "hint, once more" ./tutorial hint 01.1
expect_output '^No more hints' "it says when there are no more stages"

expect 0 "next" ./tutorial next
expect_output '^read: docs/01-one\.md:3' "next names the chapter's section"
expect 2 "next with a flag it does not know is refused" ./tutorial next --later
expect 0 "next --skip" ./tutorial next --skip
expect_output '^skipped 01\.1' "it says which exercise it put off"
expect_output 'you skipped it earlier' "with nothing else left, next offers the skipped one again"

mkdir -p build/exercises-passed && touch build/exercises-passed/01.1
expect 0 "exercises" ./tutorial exercises
expect_output '^✓  01\.1' "an old progress mark counts"
[ -f .progress/01.1.done ] && [ ! -d build/exercises-passed ] && echo "ok: it moved to .progress/" ||
  { echo "FAIL: the old mark did not move to .progress/"; failures=$((failures + 1)); }
expect 0 "clean" ./tutorial clean
[ -f .progress/01.1.done ] && echo "ok: clean keeps .progress/" ||
  { echo "FAIL: clean erased .progress/"; failures=$((failures + 1)); }

mkdir -p 08-eight/exercises
printf '08.1\tfind the bug\tA later step\t08-eight/exercises/bug.c\n' >08-eight/exercises/exercises.tsv
expect 0 "exercises, with a step 08" ./tutorial exercises
expect_output '^·  08\.1' "step 08's exercises are listed"
rm .progress/01.1.done
expect 0 "next, with 01.1 skipped and 08.1 not done" ./tutorial next
expect_output '^next: 08\.1' "a skipped exercise comes after those not skipped"
expect 0 "exercises, with 01.1 skipped" ./tutorial exercises
expect_output '^»  01\.1' "a skipped exercise is marked"
touch .progress/01.1.done
expect 1 "hint of an exercise without hints says so" ./tutorial hint 08.1
rm -rf 08-eight

expect 0 "course-copy" ./tutorial course-copy "$WORK/course"
cd "$WORK/course"
[ ! -e .git ] && [ -f .pristine/01-one/exercises/answer.h ] && [ -f .pristine/MANIFEST.sha256 ] &&
  echo "ok: the course copy has no .git, and keeps the exercise files in .pristine/" ||
  { echo "FAIL: the course copy's layout"; failures=$((failures + 1)); }
echo '#define PREDICTED_ANSWER 42' >01-one/exercises/answer.h
expect 0 "reset in the course copy" ./tutorial reset 01.1
grep -q -- '-1' 01-one/exercises/answer.h && echo "ok: reset restored the file from .pristine/" ||
  { echo "FAIL: reset did not restore the file"; failures=$((failures + 1)); }
echo '#define PREDICTED_ANSWER 42' >01-one/exercises/answer.h
echo '/* edited */' >>.pristine/01-one/exercises/answer.h
expect 2 "reset from a pristine copy that no longer matches its manifest" ./tutorial reset 01.1
grep -q 42 01-one/exercises/answer.h && echo "ok: a refused reset changes nothing" ||
  { echo "FAIL: a refused reset changed the file"; failures=$((failures + 1)); }
rm -rf .pristine
expect 2 "reset with neither git nor a pristine copy" ./tutorial reset 01.1
expect_output 'neither its git history nor a pristine copy' "it says why"

# --no-tests=error: a checker that no ctest test registers must fail.
mkdir -p "$WORK/ctest"
echo 'add_test(exercise.01.1 "true")' >"$WORK/ctest/CTestTestfile.cmake"
expect 0 "a registered checker that passes passes" \
  bash -c 'source "$1/tutorial" && checker_ctest "$2" 01.1 "$2/log"' _ "$TREE" "$WORK/ctest"
expect 8 "a checker that is not registered fails (ctest's status 8)" \
  bash -c 'source "$1/tutorial" && checker_ctest "$2" 01.2 "$2/log"' _ "$TREE" "$WORK/ctest"

# The verdict: cmocka's lines, which the code under test could print, are not enough.
printf '1: [ RUN      ] t\n1: [       OK ] t\n1: [  PASSED  ] 1 test(s).\n' >"$WORK/ctest/forged"
expect 1 "cmocka's lines without the verdict line fail" \
  bash -c 'source "$1/tutorial" && ran_to_the_end "$2" 0123abcd' _ "$TREE" "$WORK/ctest/forged"
cp "$WORK/ctest/forged" "$WORK/ctest/other-key"
echo '1: verdict: 99999999 passed 1' >>"$WORK/ctest/other-key"
expect 1 "a verdict line with another run's key fails" \
  bash -c 'source "$1/tutorial" && ran_to_the_end "$2" 0123abcd' _ "$TREE" "$WORK/ctest/other-key"
cp "$WORK/ctest/forged" "$WORK/ctest/verdict"
echo '1: verdict: 0123abcd passed 1' >>"$WORK/ctest/verdict"
expect 0 "the verdict line with this run's key passes" \
  bash -c 'source "$1/tutorial" && ran_to_the_end "$2" 0123abcd' _ "$TREE" "$WORK/ctest/verdict"

if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all passed"
