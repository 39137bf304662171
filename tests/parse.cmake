# parse.cmake: the compiler front end. test_parse (cmocka) checks conversion
# of CPython's AST (positions, constants, syntax errors, limits);
# sf_unparse_tool + roundtrip.sh check parse -> unparse -> parse over Debian's
# stdlib, the examples and the test programs.
sf_add_test(test_parse SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_parse.c LIBS sf_compiler)

add_executable(sf_unparse_tool ${CMAKE_CURRENT_SOURCE_DIR}/sf_unparse_tool.c)
target_link_libraries(sf_unparse_tool PRIVATE sf_compiler)
set_target_properties(sf_unparse_tool PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME parse_roundtrip
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/roundtrip.sh $<TARGET_FILE:sf_unparse_tool> ${PROJECT_SOURCE_DIR})
set_tests_properties(parse_roundtrip PROPERTIES TIMEOUT 120)
sf_add_fuzz(fuzz_parse SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_parse.c LIBS sf_compiler)
