# The main demo's own test: a short run whose verdict must agree with the servers' reports.
if(BUILD_TESTING AND TUTORIAL_PYTHON3 AND TARGET step06-server AND TARGET step07-server
   AND TARGET reset-storm)
  add_test(NAME demo.verdict_matches_leak_reports
           COMMAND "${TUTORIAL_PYTHON3}" "${PROJECT_SOURCE_DIR}/demo/test_demo.py" "${CMAKE_BINARY_DIR}/bin")
  set_tests_properties(demo.verdict_matches_leak_reports PROPERTIES
    LABELS "demo;thorough" TIMEOUT 600 FIXTURES_REQUIRED wine)
endif()
