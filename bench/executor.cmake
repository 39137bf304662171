# bench/executor.cmake: bench_executor, throughput of the local executor
# (call / transfer / get through JSON parse, transaction, commit, reply).
add_executable(bench_executor ${CMAKE_CURRENT_SOURCE_DIR}/bench_executor.c)
target_link_libraries(bench_executor PRIVATE sf_runtime)
