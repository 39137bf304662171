# stateflowd.cmake: tests of the distributed runtime daemon (runtime/programs/stateflowd.c,
# runtime/cluster/coordinator.c, worker.c, aria.c, ingress.c, native.c).
#
# test_aria           the Aria decision logic and the in-memory ingress (cmocka)
# stateflowd_diff     the differential suite through `stateflowd --local --workers 2`
#                     over HTTP, compared with plain Python (tests/diff/run_diff.py)
# stateflowd_<Class>  tests/stateflowd/test_stateflowd.py, one ctest per class:
#                     Contention, Zipf, Serializable, BadInput, WorkerDeath, Cli
# Label: stateflowd.
set(SF_SFD_DIR ${PROJECT_SOURCE_DIR}/runtime/cluster)

sf_add_test(test_aria SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_aria.c ${SF_SFD_DIR}/aria.c
            ${SF_SFD_DIR}/ingress.c LIBS sf_ir)
target_include_directories(test_aria PRIVATE ${SF_SFD_DIR})
set(SF_SFD_TESTS test_aria)

if(TARGET stateflowd AND TARGET sfc)
  set(SF_SFD_ENV
      "SF_SFC=$<TARGET_FILE:sfc>"
      "SF_STATEFLOWD=$<TARGET_FILE:stateflowd>"
      "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/executor-lsan.supp:print_suppressions=0")
  add_test(NAME stateflowd_diff
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/diff/run_diff.py -j2
                   --sfc $<TARGET_FILE:sfc> --stateflowd $<TARGET_FILE:stateflowd>
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(stateflowd_diff PROPERTIES TIMEOUT 180 ENVIRONMENT "${SF_SFD_ENV}")
  list(APPEND SF_SFD_TESTS stateflowd_diff)
  foreach(cls Contention Zipf Serializable BadInput WorkerDeath Cli RefusedWrites Footprint)
    add_test(NAME stateflowd_${cls}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/stateflowd/test_stateflowd.py ${cls}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(stateflowd_${cls} PROPERTIES TIMEOUT 120 ENVIRONMENT "${SF_SFD_ENV}")
    list(APPEND SF_SFD_TESTS stateflowd_${cls})
  endforeach()
endif()

set_tests_properties(${SF_SFD_TESTS} PROPERTIES LABELS stateflowd)

# The executor's step API used by the workers (runtime/exec/executor.h).
sf_add_test(test_exec_steps SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_exec_steps.c
            ${CMAKE_CURRENT_SOURCE_DIR}/executor_apps.c LIBS sf_runtime)
target_compile_definitions(test_exec_steps PRIVATE SF_TEST_SRC_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(test_exec_steps PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(test_exec_steps PROPERTIES LABELS stateflowd
  ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/executor-lsan.supp:print_suppressions=0")

# stateflowd_PeerFailure  tests/stateflowd/test_peer_failure.py: a worker's peer
#                     killed, or only the connection between two workers killed
#                     (ss -K), while transfers spanning both are in flight: the
#                     survivor keeps running, logs the failure once and reports
#                     it to the coordinator (FAILED; runtime/cluster/mesh.c).
if(TARGET stateflowd AND TARGET sfc)
  add_test(NAME stateflowd_PeerFailure
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/stateflowd/test_peer_failure.py
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(stateflowd_PeerFailure PROPERTIES TIMEOUT 180 LABELS stateflowd
                       ENVIRONMENT "${SF_SFD_ENV}")
endif()

# tests/stateflowd/test_coord_limits.py, one ctest per class: the coordinator's
# answers to stalled batches, FAILED workers, /healthz and overload.
if(TARGET stateflowd AND TARGET sfc)
  foreach(cls StalledBatch WorkerFailed Health Overload)
    add_test(NAME stateflowd_coord_${cls}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/stateflowd/test_coord_limits.py ${cls}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(stateflowd_coord_${cls} PROPERTIES TIMEOUT 120 LABELS stateflowd
                         ENVIRONMENT "${SF_SFD_ENV}")
  endforeach()
endif()

# The bounded in-memory ingress (runtime/cluster/ingress.c), cmocka.
sf_add_test(test_ingress SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ingress.c ${SF_SFD_DIR}/ingress.c LIBS sf_common)
target_include_directories(test_ingress PRIVATE ${SF_SFD_DIR})
set_tests_properties(test_ingress PROPERTIES LABELS stateflowd)

# tests/stateflowd/test_wire.py: the client wire against `stateflowd --local`,
# one ctest per class (canonical keys; no lockout by the unauthenticated;
# native backpressure).
if(TARGET stateflowd AND TARGET sfc)
  foreach(cls Keys Lockout Backpressure)
    add_test(NAME wire_${cls}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/stateflowd/test_wire.py ${cls}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(wire_${cls} PROPERTIES TIMEOUT 120 ENVIRONMENT "${SF_SFD_ENV}" LABELS stateflowd)
  endforeach()
endif()

# The coordinator's adaptive batch limit (runtime/cluster/coord_sequencer.c), cmocka.
sf_add_test(test_batch_limit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_batch_limit.c LIBS sf_runtime m)
target_include_directories(test_batch_limit PRIVATE ${SF_SFD_DIR})
set_tests_properties(test_batch_limit PROPERTIES LABELS stateflowd)

# stateflowd_Lifecycle  tests/stateflowd/test_lifecycle.py: creates keyed by
#                     uuid4 inside methods, concurrent creates of one key
#                     (one wins, the rest AlreadyExists), DELETE /v1/{E}/{k}.
if(TARGET stateflowd AND TARGET sfc)
  add_test(NAME stateflowd_Lifecycle
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/stateflowd/test_lifecycle.py
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(stateflowd_Lifecycle PROPERTIES TIMEOUT 120 LABELS stateflowd
                       ENVIRONMENT "${SF_SFD_ENV}")
endif()

# tests/stateflowd/test_durability.py, one ctest per class: the durable log
# end to end (runtime/cluster/coord_durable.c): Restart (SIGTERM and kill -9,
# then a new start on the same --data), Supervise (kill -9 of a worker under
# load: --local restarts its workers, the coordinator recovers), DiskFull
# (ENOSPC on a small tmpfs: Unavailable, then the service goes on),
# Idempotent (retries by id across a recovery: exactly once), TornGroup
# (requests of a torn group commit are never executed), Modes.
if(TARGET stateflowd AND TARGET sfc)
  foreach(cls Restart Supervise Idempotent TornGroup DiskFull Modes)
    add_test(NAME stateflowd_durability_${cls}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/stateflowd/test_durability.py ${cls}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(stateflowd_durability_${cls} PROPERTIES TIMEOUT 180 LABELS stateflowd
                         ENVIRONMENT "${SF_SFD_ENV}")
  endforeach()
endif()
