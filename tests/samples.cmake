# Sample captures (issue 5): pcapd's NDJSON report on every samples/NAME.pcap
# (or .pcapng) must equal the reviewed samples/expected/NAME.ndjson; a
# failure prints the unified diff.  samples_complete checks that every
# capture has an expected output and a row in samples/README.md.
set(SAMPLES_DIR ${CMAKE_SOURCE_DIR}/samples)

if(TARGET pcapd)
  file(GLOB SAMPLE_EXPECTED CONFIGURE_DEPENDS ${SAMPLES_DIR}/expected/*.ndjson)
  foreach(expected ${SAMPLE_EXPECTED})
    get_filename_component(name ${expected} NAME_WLE)
    if(EXISTS ${SAMPLES_DIR}/${name}.pcap)
      set(capture ${SAMPLES_DIR}/${name}.pcap)
    elseif(EXISTS ${SAMPLES_DIR}/${name}.pcapng)
      set(capture ${SAMPLES_DIR}/${name}.pcapng)
    else()
      message(WARNING "samples/expected/${name}.ndjson has no capture beside it")
      continue()
    endif()
    add_test(NAME sample_${name}
             COMMAND sh ${SAMPLES_DIR}/expected.sh check $<TARGET_FILE:pcapd>
                     ${capture} ${expected})
    set_tests_properties(sample_${name} PROPERTIES LABELS samples)
  endforeach()
endif()

add_test(NAME samples_complete COMMAND sh ${SAMPLES_DIR}/expected.sh complete)
set_tests_properties(samples_complete PROPERTIES LABELS samples)
