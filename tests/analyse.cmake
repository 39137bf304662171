# analyse.cmake: the analysis stage (compiler/analyse*.c). test_analyse parses
# small programs with the real parser and checks entities, types, flags,
# remote operations, and every file of tests/compile_errors/ (whose
# `# expect: LINE:COL: TEXT` headers must match the errors exactly; the sfc
# level test sfc_errors.sh reuses the same files).
sf_add_test(test_analyse SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_analyse.c LIBS sf_compiler)
