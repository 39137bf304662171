# tests/client.cmake: the Python client (python/stateflow/client.py), its
# msgpack codec (_msgpack.py) and sfctl, tested against in-process stand-in
# servers for the HTTP gateway and the native protocol
# (tests/client/test_client.py, standins.py). Debian's /usr/bin/python3,
# standard library only; runs in a few seconds. When python/sfctl.cmake is
# included, the build tree's bin/sfctl shim is exercised too.
add_test(NAME client_py COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/client/test_client.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(client_py PROPERTIES LABELS client TIMEOUT 120
                     ENVIRONMENT "SF_SFCTL_SHIM=${CMAKE_BINARY_DIR}/bin/sfctl")
