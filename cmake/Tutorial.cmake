# Helpers every step's CMakeLists.txt uses. A step sets nothing itself: the top level sets
# TUTORIAL_STEP (its two-digit number) before add_subdirectory.

# tutorial_library(NAME SOURCES... [LIBS ...])
#   A static library of a step's code, shared by its program and its tests.
function(tutorial_library name)
  cmake_parse_arguments(arg "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${arg_SOURCES})
  target_include_directories(${name} PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}/src")
  target_link_libraries(${name} PUBLIC tutorial_common ${arg_LIBS} PRIVATE tutorial_warnings)
endfunction()

# tutorial_program(NAME SOURCES... [LIBS ...])
#   A console program. Its .exe lands in <build>/bin, where ./tutorial run and the tests
#   find it (tests live in <build>/tests; "$<0:>" keeps Visual Studio from adding Debug/).
function(tutorial_program name)
  cmake_parse_arguments(arg "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE tutorial_common tutorial_warnings ${arg_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/bin/$<0:>")
endfunction()

# The part every cmocka program shares: the executable, linked with the test kit, placed
# in <build>/tests, registered with ctest under test_name, run through Wine where needed.
function(tutorial_add_cmocka_program target test_name labels timeout)
  cmake_parse_arguments(arg "EXCLUDE_FROM_ALL" "" "SOURCES;LIBS" ${ARGN})
  if(arg_EXCLUDE_FROM_ALL)
    add_executable(${target} EXCLUDE_FROM_ALL ${arg_SOURCES})
  else()
    add_executable(${target} ${arg_SOURCES})
  endif()
  target_link_libraries(${target} PRIVATE tutorial_testkit tutorial_warnings ${arg_LIBS})
  set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/tests/$<0:>")
  add_test(NAME "${test_name}" COMMAND ${target})
  set_tests_properties("${test_name}" PROPERTIES LABELS "${labels}" TIMEOUT ${timeout})
  if(TUTORIAL_USES_WINE)
    set_tests_properties("${test_name}" PROPERTIES FIXTURES_REQUIRED wine)
  endif()
endfunction()

# tutorial_test(NAME SOURCES... [LIBS ...] [LABELS ...] [TIMEOUT seconds] [PAGE_HEAP])
#   A cmocka test program, registered with ctest as stepNN.NAME and labelled stepNN
#   (plus LABELS, e.g. unit or system). Under Wine it runs through cmake/wine-run.
#   PAGE_HEAP: every malloc and free of the program goes through the page-heap allocator
#   (tutorial/page_heap.h), and the test is labelled page_heap.
function(tutorial_test name)
  cmake_parse_arguments(arg "PAGE_HEAP" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(arg_PAGE_HEAP)
    list(APPEND arg_LIBS tutorial_page_heap)
    list(APPEND arg_LABELS page_heap)
  endif()
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 60)
  endif()
  if(DEFINED TUTORIAL_STEP)
    set(label "step${TUTORIAL_STEP}")
  else()
    set(label "common")
  endif()
  tutorial_add_cmocka_program("${label}_${name}" "${label}.${name}" "${label};${arg_LABELS}"
                              ${arg_TIMEOUT} SOURCES ${arg_SOURCES} LIBS ${arg_LIBS})
endfunction()

# tutorial_thorough(NAME ARGUMENT [TIMEOUT seconds])
#   Runs the program of tutorial_test(NAME) once more, with ARGUMENT, as stepNN.NAME_thorough
#   labelled thorough: the long part of a test file (its main() picks it by the argument).
#   A plain ./tutorial test leaves them out; --thorough (as CI runs it) and a named step
#   (./tutorial test 07) include them.
function(tutorial_thorough name argument)
  cmake_parse_arguments(arg "" "TIMEOUT" "" ${ARGN})
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 300)
  endif()
  set(label "step${TUTORIAL_STEP}")
  add_test(NAME "${label}.${name}_thorough" COMMAND "${label}_${name}" "${argument}")
  # RUN_SERIAL: a thorough test (a storm of 20,000 resets) saturates the Wine server that
  # every test shares, and tests beside it that wait on deadlines would measure the storm.
  set_tests_properties("${label}.${name}_thorough" PROPERTIES
    LABELS "${label};system;thorough" TIMEOUT ${arg_TIMEOUT} RUN_SERIAL TRUE)
  if(TUTORIAL_USES_WINE)
    set_tests_properties("${label}.${name}_thorough" PROPERTIES FIXTURES_REQUIRED wine)
  endif()
endfunction()

# tutorial_exercise(K SOURCES... [LIBS ...] [TIMEOUT seconds] [PAGE_HEAP])
#   The checker of exercise NN.K: a cmocka test program in NN-name/exercises/. It is not
#   part of the normal build or test run (it is meant to fail until the learner has done
#   the exercise); ./tutorial check NN.K builds and runs it. Registered as exercise.NN.K
#   with the labels "exercise" and "exNN.K".
#   PAGE_HEAP: as for tutorial_test, the checker runs under the page-heap allocator.
#   PREDICTION file: a predict exercise's answers (tutorial/prediction.h), data the checker
#   reads and never compiles; each build of the checker copies it next to the program.
function(tutorial_exercise number)
  cmake_parse_arguments(arg "PAGE_HEAP" "TIMEOUT;PREDICTION" "SOURCES;LIBS" ${ARGN})
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 120)
  endif()
  if(arg_PAGE_HEAP)
    list(APPEND arg_LIBS tutorial_page_heap)
  endif()
  set(id "${TUTORIAL_STEP}.${number}")
  tutorial_add_cmocka_program("exercise_${TUTORIAL_STEP}_${number}" "exercise.${id}"
                              "exercise;ex${id}" ${arg_TIMEOUT} EXCLUDE_FROM_ALL
                              SOURCES ${arg_SOURCES} LIBS ${arg_LIBS})
  if(arg_PREDICTION)
    get_filename_component(name "${arg_PREDICTION}" NAME)
    set(copy "${CMAKE_BINARY_DIR}/tests/${name}")
    add_custom_command(OUTPUT "${copy}"
      COMMAND ${CMAKE_COMMAND} -E copy "${CMAKE_CURRENT_SOURCE_DIR}/${arg_PREDICTION}" "${copy}"
      DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/${arg_PREDICTION}" VERBATIM)
    target_sources("exercise_${TUTORIAL_STEP}_${number}" PRIVATE "${copy}")
  endif()
endfunction()

# tutorial_case(NAME SOURCES... TEST test.c [LIBS ...] [TEST_LIBS ...] [CHILD child.c]
#               [TIMEOUT seconds])
#   One case of a step that shows a bug and its fix in the same source, the fix's few lines
#   inside #ifdef WITH_FIX. SOURCES are built twice: the library stepNN_NAME (the code as it
#   was) and stepNN_NAME_with_fix (with WITH_FIX defined). TEST, one file compiled with
#   WITH_FIX where it expects the fix, is built three times (labelled case, under the page
#   heap):
#     stepNN.NAME_buggy    expects the bug, against the code as it was: passes
#     stepNN.NAME_fixed    expects the fix, against the fixed code: passes
#     stepNN.NAME_flipped  expects the fix, against the code as it was: passes only when
#                          cmocka reports a failed assertion, which proves the fixed test
#                          catches the bug (a crash or a hang does not count)
#   LIBS go with the code, TEST_LIBS with the tests only.
#   CHILD: a program built against each library under the page heap (stepNN-NAME-child,
#   stepNN-NAME-fixed-child; the test finds its own as CASE_CHILD), for a test that must
#   watch a use-after-free stop a process. Under MSVC, where there is no page heap, the tests
#   of a case with a CHILD that run the code as it was are left out: nothing would stop the
#   misuse.
function(tutorial_case name)
  cmake_parse_arguments(arg "" "TEST;CHILD;TIMEOUT" "SOURCES;LIBS;TEST_LIBS" ${ARGN})
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 60)
  endif()
  set(step "step${TUTORIAL_STEP}")
  tutorial_library(${step}_${name} SOURCES ${arg_SOURCES} LIBS ${arg_LIBS})
  tutorial_library(${step}_${name}_with_fix SOURCES ${arg_SOURCES} LIBS ${arg_LIBS})
  target_compile_definitions(${step}_${name}_with_fix PRIVATE WITH_FIX)
  if(NOT BUILD_TESTING)
    return()
  endif()
  foreach(variant buggy fixed flipped)
    set(lib "${step}_${name}")
    set(child "${step}-${name}-child")
    if(variant STREQUAL "fixed")
      set(lib "${step}_${name}_with_fix")
      set(child "${step}-${name}-fixed-child")
    endif()
    if(arg_CHILD AND MSVC AND NOT variant STREQUAL "fixed")
      continue()
    endif()
    set(target "${step}_${name}_${variant}")
    tutorial_test(${name}_${variant} SOURCES ${arg_TEST} LIBS ${arg_TEST_LIBS} ${lib}
                  LABELS unit case PAGE_HEAP TIMEOUT ${arg_TIMEOUT})
    if(NOT variant STREQUAL "buggy")
      target_compile_definitions(${target} PRIVATE WITH_FIX)
    endif()
    if(variant STREQUAL "flipped")
      set_tests_properties("${step}.${name}_${variant}" PROPERTIES
        PASS_REGULAR_EXPRESSION "\\[  FAILED  \\] [1-9][0-9]* test")
    endif()
    if(arg_CHILD)
      if(NOT TARGET ${child})
        tutorial_program(${child} SOURCES ${arg_CHILD} LIBS ${lib} tutorial_page_heap)
      endif()
      target_compile_definitions(${target} PRIVATE CASE_CHILD="${child}")
      add_dependencies(${target} ${child})
    endif()
  endforeach()
endfunction()
