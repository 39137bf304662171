# http.cmake: tests of the HTTP gateway: the HTTP/1.1 parser (runtime/wire/http.c),
# the metrics registry (runtime/wire/metrics.c) and the libuv gateway
# (runtime/wire/gateway.c) with raw TCP clients, plus the parser's libFuzzer
# target. The sources are compiled in directly so these tests do not depend
# on the rest of sf_runtime (or on Python).
set(SF_HTTP_DIR ${PROJECT_SOURCE_DIR}/runtime/wire)
set(SF_HTTP_SRC ${SF_HTTP_DIR}/http.c)
set(SF_GATEWAY_SRC ${SF_HTTP_DIR}/gateway.c ${SF_HTTP_DIR}/http.c ${SF_HTTP_DIR}/metrics.c
    ${SF_HTTP_DIR}/json.c ${SF_HTTP_DIR}/request.c ${SF_HTTP_DIR}/ratelog.c)

sf_add_test(test_http SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_http.c ${SF_HTTP_SRC} ${SF_HTTP_DIR}/metrics.c
            LIBS sf_ir m)
target_include_directories(test_http PRIVATE ${SF_HTTP_DIR})

sf_add_test(test_gateway SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_gateway.c ${SF_GATEWAY_SRC}
            LIBS sf_ir PkgConfig::MSGPACK PkgConfig::UV m)
target_include_directories(test_gateway PRIVATE ${SF_HTTP_DIR})
set_tests_properties(test_gateway PROPERTIES TIMEOUT 60)

sf_add_fuzz(fuzz_http SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_http.c ${SF_HTTP_SRC} LIBS sf_ir m)
if(SF_FUZZ)
  target_include_directories(fuzz_http PRIVATE ${SF_HTTP_DIR})
endif()

# Keys compared as values: canonical msgpack keys (runtime/wire/request.c)
# and their home partition (runtime/cluster/cluster.c).
sf_add_test(test_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_request.c LIBS sf_runtime)
