# Engine unit tests (tests/unit/test_engine*.c) share tests/unit/event_log.c,
# the helper that renders events as text lines and replays transcripts.
file(GLOB _engine_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_engine*.c)
foreach(src ${_engine_tests})
  get_filename_component(name ${src} NAME_WE)
  if(TARGET ${name})
    target_sources(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit/event_log.c)
    target_compile_definitions(${name} PRIVATE
      ENGINE_TRANSCRIPTS="${CMAKE_CURRENT_SOURCE_DIR}/unit/transcripts")
  endif()
endforeach()
