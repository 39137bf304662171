# net.cmake: tests of the wire frame (runtime/wire/frame.c) and the transport
# (runtime/wire/net.c), and the frame decoder's libFuzzer target. The sources are
# compiled in directly so these tests do not depend on the rest of sf_runtime.
set(SF_NET_DIR ${PROJECT_SOURCE_DIR}/runtime/wire)

sf_add_test(test_frame SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_frame.c ${SF_NET_DIR}/frame.c
            LIBS sf_ir PkgConfig::MSGPACK)
target_include_directories(test_frame PRIVATE ${SF_NET_DIR})

sf_add_test(test_net SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_net.c ${SF_NET_DIR}/frame.c ${SF_NET_DIR}/net.c ${SF_NET_DIR}/ratelog.c
            LIBS sf_ir PkgConfig::MSGPACK PkgConfig::UV)
target_include_directories(test_net PRIVATE ${SF_NET_DIR})
set_tests_properties(test_net PROPERTIES TIMEOUT 30)

sf_add_fuzz(fuzz_frame SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_frame.c ${SF_NET_DIR}/frame.c
            LIBS sf_ir PkgConfig::MSGPACK)
if(SF_FUZZ)
  target_include_directories(fuzz_frame PRIVATE ${SF_NET_DIR})
endif()

# Backpressure of the native client server (runtime/wire/native.c).
sf_add_test(test_native SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_native.c LIBS sf_runtime)
set_tests_properties(test_native PROPERTIES TIMEOUT 60)

# The transport under valgrind (memcheck): every frame queued, written,
# cancelled or dropped on close is freed (skipped in sanitizer builds).
find_program(VALGRIND valgrind)
if(VALGRIND AND NOT SF_SANITIZE AND NOT SF_FUZZ)
  add_test(NAME test_net_valgrind COMMAND ${VALGRIND} -q --error-exitcode=9 --leak-check=full
           --errors-for-leak-kinds=definite $<TARGET_FILE:test_net>)
  set_tests_properties(test_net_valgrind PROPERTIES TIMEOUT 120)
endif()
