# durlog.cmake: tests of the durable log (runtime/cluster/durlog.c and its
# record payloads, durlog_rec.c) and of CRC-32C (common/crc32c.c), and
# their libFuzzer target (seeds in tests/fuzz/corpus_durlog). The sources
# are compiled in directly so these do not depend on the rest of sf_runtime.
set(SF_DURLOG_DIR ${PROJECT_SOURCE_DIR}/runtime/cluster)

sf_add_test(test_durlog SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_durlog.c ${SF_DURLOG_DIR}/durlog.c
            ${SF_DURLOG_DIR}/durlog_rec.c LIBS sf_common)
target_include_directories(test_durlog PRIVATE ${SF_DURLOG_DIR})
set_tests_properties(test_durlog PROPERTIES TIMEOUT 60)

sf_add_fuzz(fuzz_durlog SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_durlog.c ${SF_DURLOG_DIR}/durlog.c
            ${SF_DURLOG_DIR}/durlog_rec.c LIBS sf_common)
if(SF_FUZZ)
  target_include_directories(fuzz_durlog PRIVATE ${SF_DURLOG_DIR})
endif()
