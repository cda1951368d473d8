# bench_plugin.sh's load generator (needs libmosquitto).
if(TARGET mosquitto_msgsec)
  find_library(MOSQUITTO_CLIENT_LIBRARY NAMES mosquitto REQUIRED)
  find_package(Threads REQUIRED)
  add_executable(bench_plugin_load ${CMAKE_CURRENT_LIST_DIR}/bench_plugin_load.c)
  target_link_libraries(bench_plugin_load PRIVATE msgsec_static ${MOSQUITTO_CLIENT_LIBRARY}
    Threads::Threads)
endif()
