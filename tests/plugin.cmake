# Plugin tests: tshark with the freshly built smtpscope plugin, no install.
# tests/plugin/check_plugin.py runs tshark as nobody when ctest runs as root
# (tshark 4.0 ignores WIRESHARK_PLUGIN_DIR for root), so the build tree must
# be readable by others.  Exit code 77 marks a skipped test.
if(NOT TARGET smtpscope_plugin)
  return()
endif()
find_program(SMTPSCOPE_TSHARK tshark)
find_package(Python3 COMPONENTS Interpreter)
if(NOT SMTPSCOPE_TSHARK OR NOT Python3_FOUND)
  message(STATUS "tshark or python3 missing: plugin tests not registered")
  return()
endif()

set(_plugin_check ${CMAKE_CURRENT_SOURCE_DIR}/plugin/check_plugin.py)
set(_plugin_args --tshark ${SMTPSCOPE_TSHARK} --plugin-dir ${SMTPSCOPE_PLUGIN_BUILD_ROOT}
    --samples ${PROJECT_SOURCE_DIR}/samples --corpus ${PROJECT_SOURCE_DIR}/../shared/corpus)
if(TARGET pcapd)
  list(APPEND _plugin_args --pcapd $<TARGET_FILE:pcapd>)
endif()
# A sanitized plugin needs the sanitizer runtime loaded into tshark first.
if(SMTPSCOPE_SANITIZE)
  if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    set(_plugin_rt_names libclang_rt.asan-x86_64.so)
  else()
    set(_plugin_rt_names libasan.so libubsan.so)
  endif()
  set(_plugin_preload "")
  foreach(rt ${_plugin_rt_names})
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${rt}
                    OUTPUT_VARIABLE _rt OUTPUT_STRIP_TRAILING_WHITESPACE)
    string(APPEND _plugin_preload " ${_rt}")
  endforeach()
  string(STRIP "${_plugin_preload}" _plugin_preload)
  list(APPEND _plugin_args --preload "${_plugin_preload}")
endif()

foreach(check load fields builtin_failures ports info_column expert stats imf tls two_pass
              reassembly pcapd corpus)
  add_test(NAME plugin_${check}
           COMMAND ${Python3_EXECUTABLE} ${_plugin_check} --check ${check} ${_plugin_args})
  set_tests_properties(plugin_${check} PROPERTIES LABELS plugin SKIP_RETURN_CODE 77)
endforeach()
set_tests_properties(plugin_corpus plugin_pcapd PROPERTIES TIMEOUT 1500)
