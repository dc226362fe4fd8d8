# The driver's own tests (driver/tests, Python's unittest): the learner's commands in a small
# fake tree (refusals with status 2, hints, next and skip, progress, the first prediction),
# the course copy and reset, the checker's verdict, grading, the build's progress, and both
# platform layers. About ten seconds; no build, no Wine.
find_program(TUTORIAL_PYTHON3 NAMES python3 python)
if(BUILD_TESTING AND TUTORIAL_PYTHON3)
  add_test(NAME tools.driver
           COMMAND "${TUTORIAL_PYTHON3}" -m unittest discover -s "${PROJECT_SOURCE_DIR}/driver/tests")
  set_tests_properties(tools.driver PROPERTIES LABELS tools TIMEOUT 120)
endif()
