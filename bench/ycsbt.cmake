# bench/ycsbt.cmake: ycsbt, the YCSB / YCSB+T load generator (bench/ycsbt/,
# docs/benchmarks.md) for stateflowd (native protocol, HTTP) and PostgreSQL
# (libpq). A benchmark tool, never run as a test; tests/bench.cmake tests
# its pure parts (key generators, histogram, msgpack reader).
pkg_check_modules(PQ IMPORTED_TARGET libpq)

add_library(sf_bench_ycsbt_core STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/ycsbt/keygen.c
  ${CMAKE_CURRENT_SOURCE_DIR}/ycsbt/hist.c
  ${CMAKE_CURRENT_SOURCE_DIR}/ycsbt/mp.c)
target_include_directories(sf_bench_ycsbt_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/ycsbt)
target_link_libraries(sf_bench_ycsbt_core PUBLIC m)

if(PQ_FOUND)
  add_executable(ycsbt
    ${CMAKE_CURRENT_SOURCE_DIR}/ycsbt/main.c
    ${CMAKE_CURRENT_SOURCE_DIR}/ycsbt/workload.c
    ${CMAKE_CURRENT_SOURCE_DIR}/ycsbt/drv_native.c
    ${CMAKE_CURRENT_SOURCE_DIR}/ycsbt/drv_http.c
    ${CMAKE_CURRENT_SOURCE_DIR}/ycsbt/drv_pg.c)
  target_link_libraries(ycsbt PRIVATE sf_bench_ycsbt_core sf_runtime PkgConfig::UV PkgConfig::MSGPACK
                        PkgConfig::PQ m)
else()
  message(STATUS "libpq not found (apt-get install libpq-dev): ycsbt is not built")
endif()
