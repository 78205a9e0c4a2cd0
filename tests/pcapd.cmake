# pcapd end-to-end tests: tests/pcapd/test_pcapd.py generates small crafted
# captures (python3 standard library only) and checks pcapd's reports, one
# ctest per case.  The corpus case skips (exit 77) when ../shared is absent.
find_package(Python3 COMPONENTS Interpreter)
if(TARGET pcapd AND Python3_Interpreter_FOUND)
  set(_pcapd_test ${CMAKE_CURRENT_LIST_DIR}/pcapd/test_pcapd.py)
  execute_process(COMMAND ${Python3_EXECUTABLE} ${_pcapd_test} --list
                  OUTPUT_VARIABLE _pcapd_cases OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _pcapd_rc)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_pcapd_test})
  if(NOT _pcapd_rc EQUAL 0)
    message(WARNING "tests/pcapd/test_pcapd.py --list failed; no pcapd tests")
    set(_pcapd_cases "")
  endif()
  foreach(case ${_pcapd_cases})
    add_test(NAME pcapd_${case}
             COMMAND ${Python3_EXECUTABLE} ${_pcapd_test} $<TARGET_FILE:pcapd> ${case} ${CMAKE_SOURCE_DIR})
    set_tests_properties(pcapd_${case} PROPERTIES LABELS pcapd SKIP_RETURN_CODE 77 TIMEOUT 600)
  endforeach()
endif()
