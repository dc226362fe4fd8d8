# The docs quote the real source (see cmake/docs_sync.py); this test fails when a quoted
# block and the code have drifted apart, or a marker is missing.
find_program(TUTORIAL_PYTHON3 NAMES python3 python)
if(BUILD_TESTING AND TUTORIAL_PYTHON3)
  add_test(NAME docs.quoted_code_matches_source
           COMMAND "${TUTORIAL_PYTHON3}" "${PROJECT_SOURCE_DIR}/cmake/docs_sync.py")
  set_tests_properties(docs.quoted_code_matches_source PROPERTIES LABELS docs TIMEOUT 60)
  # The chapters' commands are run by `./tutorial docs-run` (cmake/docs_run.py), outside
  # ctest: it runs servers on the chapters' fixed ports. This is that check's own test.
  add_test(NAME docs.run_check_catches_a_difference
           COMMAND "${TUTORIAL_PYTHON3}" "${PROJECT_SOURCE_DIR}/cmake/test_docs_run.py")
  set_tests_properties(docs.run_check_catches_a_difference PROPERTIES LABELS docs TIMEOUT 60)
elseif(BUILD_TESTING)
  message(WARNING "python3 not found: the docs check will not run")
endif()
