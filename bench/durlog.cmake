# bench/durlog.cmake: durlog_bench, group-commit throughput of the durable
# log (runtime/cluster/durlog.c, compiled in directly) on a real disk.
add_executable(durlog_bench ${CMAKE_CURRENT_SOURCE_DIR}/durlog_bench.c ${PROJECT_SOURCE_DIR}/runtime/cluster/durlog.c)
target_include_directories(durlog_bench PRIVATE ${PROJECT_SOURCE_DIR}/runtime/cluster)
target_link_libraries(durlog_bench PRIVATE sf_common)
