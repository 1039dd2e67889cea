# Chart.js (Debian's libjs-chart.js), inlined into the self-contained HTML
# pages: switchyard-load's report and the gateway's /dashboard. A target that
# calls switchyard_use_chartjs() gets the file's path as SWITCHYARD_CHARTJS
# and reads it with apps/common/chartjs.hpp (the SWITCHYARD_CHARTJS
# environment variable overrides the path at run time).
find_file(SWITCHYARD_CHARTJS_FILE chart.min.js
  PATHS /usr/share/javascript/chart.js NO_DEFAULT_PATH)
if(NOT SWITCHYARD_CHARTJS_FILE)
  set(SWITCHYARD_CHARTJS_FILE /usr/share/javascript/chart.js/chart.min.js)
endif()

function(switchyard_use_chartjs target)
  target_compile_definitions(${target} PRIVATE
    SWITCHYARD_CHARTJS="${SWITCHYARD_CHARTJS_FILE}")
  target_include_directories(${target} PRIVATE
    "${PROJECT_SOURCE_DIR}/apps/common")
endfunction()
