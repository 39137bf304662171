# sfc at the command line: compile errors with positions, examples, dump/dot.
add_test(NAME sfc_errors COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sfc_errors.sh $<TARGET_FILE:sfc>)
add_test(NAME sfc_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sfc_cli.sh $<TARGET_FILE:sfc>)
