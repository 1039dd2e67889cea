#pragma once

// Connects an engine's status to a `metrics_sink`: the gauges that come from
// `engine::status()` rather than from events (breaker state, in-flight and
// queued per deployment, the upstreams' rate-limit remaining).

#include "switchyard/engine.hpp"
#include "switchyard/metrics.hpp"

namespace switchyard {

/// Sets the sink's status gauges from one `engine::status()` snapshot.
inline void publish_status(metrics_sink& sink, const engine_status& st) {
  sink.observe_engine(st.calls_running, st.calls_queued);
  for (const auto& d : st.deployments)
    sink.observe_deployment(
        d.name,
        d.disabled ? std::string_view{"disabled"} : to_string(d.breaker),
        d.in_flight, d.queued, d.ratelimit_remaining_requests,
        d.ratelimit_remaining_tokens);
}

/// Refreshes the sink's status gauges from `eng` on every scrape of the
/// sink's registry. `eng` and `sink` must outlive the registry's renders.
inline void publish_status_on_scrape(metrics_sink& sink, const engine& eng) {
  sink.registry().on_collect(
      [&sink, &eng] { publish_status(sink, eng.status()); });
}

} // namespace switchyard
