# executor.cmake: tests of the runtime's store, executor and sfrun.
sf_add_test(test_store SOURCES test_store.c LIBS sf_runtime)
sf_add_test(test_executor SOURCES test_executor.c executor_apps.c LIBS sf_runtime)
target_compile_definitions(test_executor PRIVATE SF_TEST_SRC_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(test_executor PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(test_executor PROPERTIES
  ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/executor-lsan.supp:print_suppressions=0")

# sfrun end to end: a hand-built .sfir (executor_mkapp) fed JSON lines.
add_executable(executor_mkapp executor_mkapp.c executor_apps.c)
target_link_libraries(executor_mkapp PRIVATE sf_ir)
target_compile_definitions(executor_mkapp PRIVATE SF_TEST_SRC_DIR="${PROJECT_SOURCE_DIR}")
set_target_properties(executor_mkapp PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
if(TARGET sfrun)
  add_test(NAME sfrun_script
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sfrun_test.sh $<TARGET_FILE:sfrun>
                   $<TARGET_FILE:executor_mkapp> ${CMAKE_BINARY_DIR}/tests/sfrun_test
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(sfrun_script PROPERTIES TIMEOUT 60
    ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/executor-lsan.supp:print_suppressions=0")
  # sfrun --time-limit ends an __init__ or __key__ that never returns.
  add_test(NAME sfrun_user_code_guarded
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/executor_time_limit.sh $<TARGET_FILE:sfrun>
                   $<TARGET_FILE:executor_mkapp> ${CMAKE_BINARY_DIR}/tests/sfrun_user_code_guarded
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(sfrun_user_code_guarded PROPERTIES TIMEOUT 60
    ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/executor-lsan.supp:print_suppressions=0")
endif()

# libFuzzer target for the event decoder (SF_FUZZ=ON, CC=clang).
sf_add_fuzz(fuzz_event SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_event.c
            ${CMAKE_CURRENT_SOURCE_DIR}/executor_apps.c LIBS sf_runtime)
if(SF_FUZZ)
  target_compile_definitions(fuzz_event PRIVATE SF_TEST_SRC_DIR="${PROJECT_SOURCE_DIR}")
  target_include_directories(fuzz_event PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
endif()

# stateflowd: a worker's time limit ends an __init__ that never returns
# (tests/executor_stateflowd_guarded.py, about 10 s: the worker's limit).
if(TARGET stateflowd AND TARGET sfc)
  add_test(NAME stateflowd_user_code_guarded
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/executor_stateflowd_guarded.py
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(stateflowd_user_code_guarded PROPERTIES TIMEOUT 120 LABELS stateflowd
    ENVIRONMENT "SF_SFC=$<TARGET_FILE:sfc>;SF_STATEFLOWD=$<TARGET_FILE:stateflowd>;LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/executor-lsan.supp:print_suppressions=0")
endif()
