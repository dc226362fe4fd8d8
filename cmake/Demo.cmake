# The main demo's own test: a short run whose verdict must agree with the servers' reports.
if(BUILD_TESTING AND TUTORIAL_PYTHON3 AND TARGET step06-server AND TARGET step07-server
   AND TARGET reset-storm)
  add_test(NAME demo.verdict_matches_leak_reports
           COMMAND "${TUTORIAL_PYTHON3}" "${PROJECT_SOURCE_DIR}/demo/test_demo.py" "${CMAKE_BINARY_DIR}/bin")
  set_tests_properties(demo.verdict_matches_leak_reports PROPERTIES
    LABELS "demo;thorough" TIMEOUT 600 FIXTURES_REQUIRED wine)
endif()

# The incident with probes from outside the project (Python's own sockets), against the real
# programs and no fault rule: step 06 leaks, step 07 does not.
if(BUILD_TESTING AND TUTORIAL_PYTHON3 AND TARGET step06-server AND TARGET step07-server)
  add_test(NAME demo.native_probes_leak_in_06_and_not_in_07
           COMMAND "${TUTORIAL_PYTHON3}" "${PROJECT_SOURCE_DIR}/demo/test_native_probes.py"
                   "${CMAKE_BINARY_DIR}/bin")
  set_tests_properties(demo.native_probes_leak_in_06_and_not_in_07 PROPERTIES
    LABELS "demo;system" TIMEOUT 300 FIXTURES_REQUIRED wine RUN_SERIAL TRUE)
endif()
