# ir.cmake: tests of the ir/ library (test_ir) and its libFuzzer target
# (fuzz_ir, seeds in tests/fuzz/corpus_ir, dictionary tests/fuzz/ir.dict).
sf_add_test(test_ir SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ir.c LIBS sf_ir)
sf_add_fuzz(fuzz_ir SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_ir.c LIBS sf_ir)
