# The tutorial script's own test (cmake/test_tutorial_script.sh): its exercise commands
# refuse what they cannot do with status 2, reset works in a course copy without .git, a
# checker that is not registered does not pass. A few seconds, no build, no Wine.
find_program(TUTORIAL_BASH bash)
if(BUILD_TESTING AND TUTORIAL_BASH AND NOT CMAKE_HOST_WIN32)
  add_test(NAME tools.tutorial_script
           COMMAND "${TUTORIAL_BASH}" "${PROJECT_SOURCE_DIR}/cmake/test_tutorial_script.sh")
  set_tests_properties(tools.tutorial_script PROPERTIES LABELS tools TIMEOUT 60)
endif()
