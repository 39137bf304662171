# sfc at the command line: compile errors with positions, examples, dump/dot.
add_test(NAME sfc_errors COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sfc_errors.sh $<TARGET_FILE:sfc>)
add_test(NAME sfc_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sfc_cli.sh $<TARGET_FILE:sfc>)

# sfc and sfrun under valgrind (skipped in sanitizer builds: they clash).
find_program(VALGRIND valgrind)
if(VALGRIND AND NOT SF_SANITIZE AND NOT SF_FUZZ AND TARGET sfrun)
  add_test(NAME valgrind_tools COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/valgrind.sh $<TARGET_FILE:sfc> $<TARGET_FILE:sfrun>)
  set_tests_properties(valgrind_tools PROPERTIES TIMEOUT 300)
endif()

# sfrun's time limit interrupts a request stuck in plain Python code.
if(TARGET sfrun)
  add_test(NAME sfrun_time_limit COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sfrun_time_limit.sh $<TARGET_FILE:sfc> $<TARGET_FILE:sfrun>)
endif()

# cmake --install into a temporary prefix; the installed sfc, stateflowd and
# sfctl work; python/ installs with pip into a virtualenv.
if(TARGET stateflowd)
  add_test(NAME install COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install_test.sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR})
  set_tests_properties(install PROPERTIES TIMEOUT 180 ENVIRONMENT
    "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/executor-lsan.supp:print_suppressions=0")
endif()
