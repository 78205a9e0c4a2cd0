# Robustness tests (issue 6): hostile captures through pcapd and the plugin,
# and live capture with dropped privileges.  The hostile-traffic unit tests
# are tests/unit/test_hostile_*.c; the fuzz regressions are in fuzz/.
# Each script exits 77 when what it needs is absent (ctest shows a skip).
set(ROBUSTNESS_DIR ${CMAKE_CURRENT_SOURCE_DIR}/robustness)
set(ROBUSTNESS_WORK ${CMAKE_CURRENT_BINARY_DIR}/robustness)
set(ROBUSTNESS_CORPUS ${PROJECT_SOURCE_DIR}/../shared/corpus)

if(TARGET pcapd)
  add_test(NAME robustness_pcapd_mutants
           COMMAND sh ${ROBUSTNESS_DIR}/pcapd-mutants.sh $<TARGET_FILE:pcapd>
                   ${ROBUSTNESS_WORK}/pcapd-samples ${PROJECT_SOURCE_DIR}/samples)
  add_test(NAME robustness_pcapd_mutants_corpus
           COMMAND sh ${ROBUSTNESS_DIR}/pcapd-mutants.sh $<TARGET_FILE:pcapd>
                   ${ROBUSTNESS_WORK}/pcapd-corpus ${ROBUSTNESS_CORPUS})
  set_tests_properties(robustness_pcapd_mutants PROPERTIES ENVIRONMENT "PCAPD_MUTANT_EVERY=2")
  set_tests_properties(robustness_pcapd_mutants_corpus PROPERTIES ENVIRONMENT "PCAPD_MUTANT_EVERY=10")
  add_test(NAME robustness_live_capture
           COMMAND python3 ${ROBUSTNESS_DIR}/live_capture.py $<TARGET_FILE:pcapd>)
  set_tests_properties(robustness_pcapd_mutants robustness_pcapd_mutants_corpus robustness_live_capture
                       PROPERTIES LABELS robustness SKIP_RETURN_CODE 77 TIMEOUT 900)
  set_tests_properties(robustness_live_capture PROPERTIES RUN_SERIAL TRUE TIMEOUT 60)
endif()

if(TARGET smtpscope_plugin)
  set(_preload "")
  if(SMTPSCOPE_SANITIZE)
    # An ASan-built plugin needs the sanitizer runtime inside tshark.
    if(CMAKE_C_COMPILER_ID MATCHES "Clang")
      set(_asan_lib libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so)
    else()
      set(_asan_lib libasan.so)
    endif()
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${_asan_lib}
                    OUTPUT_VARIABLE _preload OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
  add_test(NAME robustness_plugin_mutants
           COMMAND sh ${ROBUSTNESS_DIR}/plugin-mutants.sh ${SMTPSCOPE_PLUGIN_BUILD_ROOT}
                   ${ROBUSTNESS_WORK}/plugin-samples ${PROJECT_SOURCE_DIR}/samples)
  set_tests_properties(robustness_plugin_mutants PROPERTIES
                       LABELS robustness SKIP_RETURN_CODE 77 TIMEOUT 900
                       ENVIRONMENT "SMTPSCOPE_PRELOAD=${_preload}")
endif()
