#include "integration/support_chaos.hpp"

#include <algorithm>
#include <sstream>
#include <variant>

#include <caf/test/unit_test.hpp>

namespace switchyard::test::chaos {

namespace {

using steady = std::chrono::steady_clock;

/// Records the end of a call; counts a second ending instead of keeping it.
void record_end(call_seen& s, std::string answered_by,
                std::optional<error_class> cls,
                std::vector<attempt_record> attempts) {
  std::lock_guard guard{s.mtx};
  if (++s.endings > 1)
    return;
  s.ended = steady::now();
  s.answered_by = std::move(answered_by);
  s.cls = cls;
  s.attempts = std::move(attempts);
}

} // namespace

int attempts_on(const std::vector<attempt_record>& trail,
                std::string_view deployment) {
  return static_cast<int>(
      std::count_if(trail.begin(), trail.end(), [&](const attempt_record& a) {
        return a.deployment == deployment && a.status != -1;
      }));
}

void start_call(engine& eng, const std::string& route, bool streamed,
                const std::shared_ptr<call_seen>& seen,
                std::chrono::milliseconds deadline) {
  call_options opts;
  opts.route = route;
  opts.deadline = deadline;
  auto req = user_request("sort the freight cars by destination");
  seen->started = steady::now();
  if (!streamed) {
    eng.complete(std::move(req), std::move(opts), [seen](call_result r) {
      if (r) {
        auto who = r->attempts.empty() ? std::string{}
                                       : r->attempts.back().deployment;
        {
          std::lock_guard guard{seen->mtx};
          seen->text = r->text;
        }
        record_end(*seen, std::move(who), std::nullopt, std::move(r->attempts));
      } else {
        auto& e = r.error();
        record_end(*seen, {}, e.failure.cls, std::move(e.attempts));
      }
    });
    return;
  }
  eng.stream(std::move(req), std::move(opts), [seen](stream_event ev) {
    {
      std::lock_guard guard{seen->mtx};
      if (seen->endings > 0) {
        ++seen->after_end;
        if (!is_terminal(ev))
          return;
      }
      if (auto* d = std::get_if<text_delta>(&ev))
        seen->text += d->text;
      else if (std::holds_alternative<stream_notice>(ev))
        ++seen->notices;
    }
    if (auto* end = std::get_if<stream_end>(&ev)) {
      auto who = end->attempts.empty() ? std::string{}
                                       : end->attempts.back().deployment;
      record_end(*seen, std::move(who), std::nullopt, std::move(end->attempts));
    } else if (auto* err = std::get_if<stream_error>(&ev)) {
      record_end(*seen, {}, err->failure.cls, std::move(err->attempts));
    }
  });
}

std::string outcome_text(const std::string& answered_by,
                         const std::optional<error_class>& cls) {
  if (!answered_by.empty())
    return answered_by;
  return "error(" + (cls ? std::string{to_string(*cls)} : "?") + ")";
}

void print_table(const std::vector<table_line>& lines) {
  std::vector<size_t> w(7, 0);
  auto cols = [](const table_line& l) {
    return std::vector<std::string>{l.row,      l.mode,     l.route, l.outcome,
                                    l.attempts, l.upstream, l.ms};
  };
  table_line head{"fault",          "mode",           "route", "outcome",
                  "attempts p/f/l", "upstream p/f/l", "ms"};
  for (const auto& l : lines) {
    auto c = cols(l);
    for (size_t i = 0; i < c.size(); ++i)
      w[i] = std::max(w[i], c[i].size());
  }
  auto hc = cols(head);
  for (size_t i = 0; i < hc.size(); ++i)
    w[i] = std::max(w[i], hc[i].size());
  auto render = [&](const table_line& l, const char* mark) {
    std::ostringstream out;
    auto c = cols(l);
    out << mark;
    for (size_t i = 0; i < c.size(); ++i)
      out << ' ' << c[i] << std::string(w[i] - c[i].size(), ' ') << " |";
    return out.str();
  };
  std::ostringstream all;
  all << "chaos matrix (p = primary, f = fallback, l = large-context "
         "fallback; upstream = requests the mocks saw):\n"
      << render(head, " ") << '\n';
  for (const auto& l : lines)
    all << render(l, l.ok ? " " : "!") << '\n';
  CAF_MESSAGE(all.str());
}

} // namespace switchyard::test::chaos
