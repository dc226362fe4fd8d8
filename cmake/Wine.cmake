# On Linux the programs are Windows executables: ctest and the driver run them under Wine
# through cmake/wine-run, with a private Wine prefix inside the build tree.
if(CMAKE_CROSSCOMPILING AND NOT CMAKE_HOST_WIN32)
  set(TUTORIAL_WINEPREFIX "${CMAKE_BINARY_DIR}/wineprefix")
  set(TUTORIAL_WINE_RUN "${PROJECT_SOURCE_DIR}/cmake/wine-run")
  set(CMAKE_CROSSCOMPILING_EMULATOR "${TUTORIAL_WINE_RUN};--prefix;${TUTORIAL_WINEPREFIX}")
  set(TUTORIAL_USES_WINE ON)
else()
  set(TUTORIAL_USES_WINE OFF)
endif()

# A ctest fixture: every test requires "wine", so a run starts one persistent wineserver
# first and stops it last, whatever subset of tests (-L, -R) is selected.
if(TUTORIAL_USES_WINE AND BUILD_TESTING)
  add_test(NAME wine.start COMMAND "${TUTORIAL_WINE_RUN}" --prefix "${TUTORIAL_WINEPREFIX}" --start)
  add_test(NAME wine.stop COMMAND "${TUTORIAL_WINE_RUN}" --prefix "${TUTORIAL_WINEPREFIX}" --stop)
  set_tests_properties(wine.start PROPERTIES FIXTURES_SETUP wine TIMEOUT 120 LABELS wine)
  set_tests_properties(wine.stop PROPERTIES FIXTURES_CLEANUP wine TIMEOUT 60 LABELS wine)
endif()
