# tests/diff.cmake: the differential tests (tests/diff/README.md).
#
# diff_plain_unit     unit tests of python/stateflow and tests/diff/plain.py
# diff_harness        run_diff.py itself, with stand-in sfc/sfrun scripts
# diff_plain_programs every program runs as plain Python, one reply per request
# diff_compile        sfc compiles every program (and rejects the 9x_err_ ones)
# diff_sfrun          sfc + sfrun give the same replies as plain Python
# All run Debian's /usr/bin/python3 (standard library only). Label: diff.
set(SF_DIFF_PY /usr/bin/python3)
set(SF_DIFF_DIR ${PROJECT_SOURCE_DIR}/tests/diff)

add_test(NAME diff_plain_unit COMMAND ${SF_DIFF_PY} ${SF_DIFF_DIR}/test_plain.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
add_test(NAME diff_harness COMMAND ${SF_DIFF_PY} ${SF_DIFF_DIR}/test_run_diff.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
add_test(NAME diff_plain_programs COMMAND ${SF_DIFF_PY} ${SF_DIFF_DIR}/run_diff.py -j2 --plain-only
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set(SF_DIFF_TESTS diff_plain_unit diff_harness diff_plain_programs)

if(TARGET sfc AND TARGET sfrun)
  add_test(NAME diff_sfrun
           COMMAND ${SF_DIFF_PY} ${SF_DIFF_DIR}/run_diff.py -j2
                   --sfc $<TARGET_FILE:sfc> --sfrun $<TARGET_FILE:sfrun>
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  list(APPEND SF_DIFF_TESTS diff_sfrun)
  # CPython's interned objects outlive sfrun by design (as for the executor
  # tests): suppressed so a sanitizer build reports only our leaks.
  set_tests_properties(diff_sfrun PROPERTIES ENVIRONMENT
    "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/executor-lsan.supp:print_suppressions=0")
elseif(TARGET sfc)
  add_test(NAME diff_compile
           COMMAND ${SF_DIFF_PY} ${SF_DIFF_DIR}/run_diff.py -j2 --compile-only --sfc $<TARGET_FILE:sfc>
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  list(APPEND SF_DIFF_TESTS diff_compile)
endif()

set_tests_properties(${SF_DIFF_TESTS} PROPERTIES LABELS diff TIMEOUT 300)
