# tests/bench.cmake: the ycsbt load generator (bench/ycsbt).
#
# test_bench_ycsbt    its pure parts (key generators, histogram, msgpack reply
#                     reader), cmocka
# bench_ycsbt_<Class> tests/bench_ycsbt_cli.py, ycsbt as a program: Silent (a
#                     server that never answers: exit 1, what stayed
#                     unanswered is reported, no hang), Overload (503
#                     Overloaded counted apart, retried in --load), LateReplies
#                     (the check waits for the run's last requests), Local
#                     (against `stateflowd --local`: exit 0)
# The benchmarks themselves (bench/compare, ycsbt runs) are never ctest tests.
set(SF_YCSBT_DIR ${PROJECT_SOURCE_DIR}/bench/ycsbt)
sf_add_test(test_bench_ycsbt
            SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_ycsbt.c ${SF_YCSBT_DIR}/keygen.c
                    ${SF_YCSBT_DIR}/hist.c ${SF_YCSBT_DIR}/mp.c
            LIBS m)
target_include_directories(test_bench_ycsbt PRIVATE ${SF_YCSBT_DIR})

# ycsbt is defined later (bench/ycsbt.cmake) and only when libpq is there.
pkg_check_modules(SF_BENCH_PQ QUIET libpq)
if(SF_BENCH_PQ_FOUND AND TARGET stateflowd AND TARGET sfc)
  foreach(cls Silent Overload LateReplies Local)
    add_test(NAME bench_ycsbt_${cls}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/bench_ycsbt_cli.py ${cls}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(bench_ycsbt_${cls} PROPERTIES TIMEOUT 180 LABELS bench
      ENVIRONMENT "SF_YCSBT=$<TARGET_FILE:ycsbt>;SF_SFC=$<TARGET_FILE:sfc>;SF_STATEFLOWD=$<TARGET_FILE:stateflowd>;LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/executor-lsan.supp:print_suppressions=0")
  endforeach()
endif()
