# pcapd end-to-end tests: scripts in tests/pcapd/ generate small crafted
# captures (python3 standard library only) and check pcapd's reports, one
# ctest per case.  Cases that need ../shared skip (exit 77) without it.
#   test_pcapd.py  every option, format, input kind and failure (pcapd_*)
#   test_shard.py  -j N on one capture against a sequential run (pcapd_shard_*)
find_package(Python3 COMPONENTS Interpreter)

# One ctest per case SCRIPT --list prints, named PREFIX<case>.
function(smtpscope_pcapd_script script prefix)
  execute_process(COMMAND ${Python3_EXECUTABLE} ${script} --list
                  OUTPUT_VARIABLE cases OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE rc)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${script})
  if(NOT rc EQUAL 0)
    message(WARNING "${script} --list failed; no ${prefix}* tests")
    return()
  endif()
  foreach(case ${cases})
    add_test(NAME ${prefix}${case}
             COMMAND ${Python3_EXECUTABLE} ${script} $<TARGET_FILE:pcapd> ${case} ${CMAKE_SOURCE_DIR})
    set_tests_properties(${prefix}${case} PROPERTIES LABELS pcapd SKIP_RETURN_CODE 77 TIMEOUT 600)
  endforeach()
endfunction()

if(TARGET pcapd AND Python3_Interpreter_FOUND)
  smtpscope_pcapd_script(${CMAKE_CURRENT_LIST_DIR}/pcapd/test_pcapd.py pcapd_)
  smtpscope_pcapd_script(${CMAKE_CURRENT_LIST_DIR}/pcapd/test_shard.py pcapd_shard_)
endif()
