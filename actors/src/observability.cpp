#include "observability.hpp"

#include "switchyard/engine_metrics.hpp"
#include "switchyard/metrics.hpp"

namespace switchyard {

expected<observers, std::string> attach_observers(const engine_config& cfg,
                                                  engine_options& opts) {
  observers out;
  out.link = std::make_shared<status_link>();
  auto& link = out.link;
  std::vector<std::shared_ptr<event_sink>> sinks;
  out.log = opts.log;
  if (!out.log && cfg.log.enabled) {
    auto opened = log_sink::open(cfg.log);
    if (!opened)
      return unexpected{opened.error()};
    out.log = *opened;
    // A program that passes its own log writes this record itself, when it
    // suits it (the gateway: after its `listening on` line).
    out.log->note(log_level::info, "config_loaded", describe_config(cfg));
  }
  if (out.log)
    sinks.push_back(out.log);
  if (opts.metrics) {
    auto sink = std::make_shared<metrics_sink>(opts.metrics, cfg);
    std::weak_ptr<status_link> weak = link;
    // The registry may outlive the engine: the collector checks the link.
    // It holds the sink weakly: the sink holds the registry, and a strong
    // reference back would keep both alive forever (LeakSanitizer).
    std::weak_ptr<metrics_sink> weak_sink = sink;
    opts.metrics->on_collect([weak, weak_sink] {
      auto l = weak.lock();
      auto s = weak_sink.lock();
      if (l && s) {
        std::lock_guard guard{l->mtx};
        if (l->eng != nullptr)
          publish_status(*s, l->eng->status());
      }
    });
    sinks.push_back(std::move(sink));
  }
  if (sinks.empty())
    return out;
  if (opts.events)
    sinks.insert(sinks.begin(), std::move(opts.events));
  opts.events = sinks.size() == 1
                    ? std::move(sinks.front())
                    : std::make_shared<fanout_sink>(std::move(sinks));
  return out;
}

} // namespace switchyard
