# codec.cmake: tests of the value codecs (runtime/wire/json.c, request.c,
# runtime/exec/pycodec.c) and their libFuzzer targets. The codec sources are compiled into
# the tests directly so these tests do not depend on the rest of sf_runtime.
set(SF_CODEC_DIR ${PROJECT_SOURCE_DIR}/runtime/wire)
set(SF_PYCODEC_DIR ${PROJECT_SOURCE_DIR}/runtime/exec)
set(SF_JSON_SRC ${SF_CODEC_DIR}/json.c ${SF_CODEC_DIR}/request.c)

sf_add_test(test_json SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_json.c ${SF_JSON_SRC}
            LIBS sf_ir PkgConfig::MSGPACK m)
target_include_directories(test_json PRIVATE ${SF_CODEC_DIR})

sf_add_test(test_pycodec SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_pycodec.c ${SF_PYCODEC_DIR}/pycodec.c
            ${SF_JSON_SRC} LIBS sf_ir PkgConfig::MSGPACK PkgConfig::PY m)
target_include_directories(test_pycodec PRIVATE ${SF_CODEC_DIR} ${SF_PYCODEC_DIR})

sf_add_fuzz(fuzz_json SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_json.c ${SF_JSON_SRC}
            LIBS sf_ir PkgConfig::MSGPACK m)
sf_add_fuzz(fuzz_msgpack SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_msgpack.c ${SF_PYCODEC_DIR}/pycodec.c
            ${SF_JSON_SRC} LIBS sf_ir PkgConfig::MSGPACK PkgConfig::PY m)
if(SF_FUZZ)
  target_include_directories(fuzz_json PRIVATE ${SF_CODEC_DIR})
  target_include_directories(fuzz_msgpack PRIVATE ${SF_CODEC_DIR} ${SF_PYCODEC_DIR})
endif()
set_tests_properties(test_pycodec PROPERTIES
  ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/codec-lsan.supp:print_suppressions=0")
