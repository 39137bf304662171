# tests/bench.cmake: the pure parts of the ycsbt load generator (key
# generators, histogram, msgpack reply reader). The benchmarks themselves
# (bench/compare, ycsbt runs) are never ctest tests.
set(SF_YCSBT_DIR ${PROJECT_SOURCE_DIR}/bench/ycsbt)
sf_add_test(test_bench_ycsbt
            SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_ycsbt.c ${SF_YCSBT_DIR}/keygen.c
                    ${SF_YCSBT_DIR}/hist.c ${SF_YCSBT_DIR}/mp.c
            LIBS m)
target_include_directories(test_bench_ycsbt PRIVATE ${SF_YCSBT_DIR})
