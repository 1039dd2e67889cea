#pragma once

// Output lines in the OpenAI Batch API output format, plus a `switchyard`
// object per line: {"id", "custom_id", "response": {"status_code",
// "request_id", "body"} | null, "error": null | {"code", "message"},
// "switchyard": {"line", "provider", "deployment", "model", "attempts",
// "latency_ms", "fell_back", "requeued", "trail"}}.

#include "switchyard/engine.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace switchyard::batch {

/// Who a line is and how long it took.
struct line_meta {
  uint64_t line = 0;
  std::string_view custom_id;
  /// From the first send to the outcome, requeue waits included.
  std::chrono::milliseconds latency{0};
  /// Times the line was sent again because no target could take it.
  uint32_t requeued = 0;
  /// Seed of the line's `id` ("batch_req_...").
  uint64_t run_nonce = 0;
  /// The first target of the line's route: an answer from any other
  /// deployment fell back (tried and failed, or skipped as unavailable).
  std::string_view primary;
};

/// A line for an answered request.
std::string render_answer(const line_meta& meta, const chat_response& resp);

/// A line for a request the engine could not answer: `code` is the failure
/// class, `message` its reason.
std::string render_failure(const line_meta& meta, const call_error& err);

/// A line for an input line that was never sent.
std::string render_problem(const line_meta& meta, std::string_view code,
                           std::string_view message);

/// True when the answering deployment is not `primary`, the route's first
/// target.
bool fell_back(const std::vector<attempt_record>& trail,
               std::string_view primary);

} // namespace switchyard::batch
