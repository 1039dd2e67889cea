#pragma once

// Helpers for the chaos_matrix suite: one engine against four mocks, calls
// observed from the caller's side (how often each ended, when, how), and the
// matrix table printed at the end.

#include "integration/support_engine.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace switchyard::test::chaos {

/// What one call's caller saw.
struct call_seen {
  std::mutex mtx;
  /// Callbacks with an outcome, or terminal stream events.
  int endings = 0;
  /// Events that arrived after the terminal one.
  int after_end = 0;
  std::chrono::steady_clock::time_point started;
  std::optional<std::chrono::steady_clock::time_point> ended;
  /// The deployment that answered; empty for an error.
  std::string answered_by;
  /// The class of the error that ended the call.
  std::optional<error_class> cls;
  std::vector<attempt_record> attempts;
  /// Stream notices (`continue` / `restart`) the caller got.
  int notices = 0;
  std::string text;
};

/// A cell's expected outcome: who answers (empty: the error is returned to
/// the caller, with class `cls`) and the attempts on each deployment.
struct expectation {
  std::string answered_by;
  std::optional<error_class> cls;
  int primary = 0;
  int fallback = 0;
  int large = 0;
  /// Whether an answer must carry text (a non-streamed empty answer is
  /// passed on as it is; a stream without content is `malformed`).
  bool text = true;
};

/// Attempts the engine reported on `deployment` (never-asked skips, status
/// -1, excluded): what that upstream must have seen.
int attempts_on(const std::vector<attempt_record>& trail,
                std::string_view deployment);

/// Starts one call (streamed or not) on `route` and records what its
/// caller sees into `seen`.
void start_call(engine& eng, const std::string& route, bool streamed,
                const std::shared_ptr<call_seen>& seen,
                std::chrono::milliseconds deadline);

/// Renders an outcome compactly: "fallback-claude" or "error(timeout)".
std::string outcome_text(const std::string& answered_by,
                         const std::optional<error_class>& cls);

/// The matrix as printed: one line per cell.
struct table_line {
  std::string row;
  std::string mode;
  std::string route;
  std::string outcome;
  std::string attempts;
  std::string upstream;
  std::string ms;
  bool ok = true;
};

/// Prints the table through CAF_MESSAGE.
void print_table(const std::vector<table_line>& lines);

} // namespace switchyard::test::chaos
