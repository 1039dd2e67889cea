#pragma once

// A fake upstream for actor tests: records every HTTP job the provider actors
// submit and lets the test answer each one with a canned response, as the
// transport thread would.

#include "switchyard/http.hpp"
#include "switchyard/transport.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::test {

/// One job the engine submitted, with the sink that hears how it ended.
struct fake_job {
  uint64_t id = 0;
  http_job job;
  std::shared_ptr<transfer_sink> sink;
  /// True once the job was answered or cancelled (its sink heard the end).
  bool done = false;
  bool cancelled = false;

  /// Returns the `model` field of the request body (the deployment's model).
  std::string model() const;
};

/// An `http_client` that runs nothing: `submit` records the job, `cancel`
/// records the cancellation and completes the job with `cancelled` (as the
/// real transport does), and `answer` completes a job with a canned result.
class fake_client final : public http_client {
public:
  uint64_t submit(http_job job, std::shared_ptr<transfer_sink> sink) override;

  void cancel(uint64_t id) override;

  /// Completes job `id` with `result`; the provider actor gets a `transfer`
  /// message. Fails the test if the job is unknown or already ended.
  void answer(uint64_t id, transfer_result result);

  /// Delivers a piece of a streamed job's body to its sink, as the transport
  /// thread would. Fails the test if the job is unknown or already ended.
  void chunk(uint64_t id, std::string_view bytes);

  /// Returns a copy of every job so far, in submission order.
  std::vector<fake_job> jobs() const;

  /// Returns the number of jobs submitted so far.
  size_t job_count() const;

  /// Returns the number of jobs for `model` submitted so far.
  size_t job_count(const std::string& model) const;

  /// Returns the job submitted `n`-th (0-based); fails the test if absent.
  fake_job job(size_t n) const;

  /// Returns the last job submitted for `model`; fails the test if absent.
  fake_job last_job(const std::string& model) const;

  /// Returns the ids of jobs still waiting for an answer, in order.
  std::vector<uint64_t> open_jobs() const;

  /// Returns the ids passed to `cancel`, in order.
  std::vector<uint64_t> cancels() const;

private:
  mutable std::mutex mtx_;
  uint64_t next_id_ = 100;
  std::vector<fake_job> jobs_;
  std::vector<uint64_t> cancels_;
};

// -- canned upstream answers (shapes from tests/wire/openai-*.http) -----------

/// 200 with an OpenAI chat completion whose answer is `text`.
transfer_result ok_response(const std::string& text = "Paris.");

/// 429 rate_limit_exceeded with `retry-after-ms: <ms>` (and `retry-after`).
transfer_result rate_limited_response(int64_t retry_after_ms = 1850);

/// The end of a clean 200 stream (status and SSE content type, no body).
transfer_result stream_ok();

/// An OpenAI stream chunk carrying `text` (`data: {...}` and a blank line).
std::string sse_text(std::string_view text);

/// OpenAI's finish chunk (finish_reason "stop", usage 7 + `completion`)
/// followed by `data: [DONE]`.
std::string sse_done(int64_t completion = 3);

/// 500 server_error.
transfer_result server_error_response();

/// 503 "engine is currently overloaded".
transfer_result overloaded_response();

/// 401 invalid_api_key.
transfer_result unauthorized_response();

/// 404 model_not_found (a bad request: retrying elsewhere fails the same way).
transfer_result bad_request_response();

/// 400 context_length_exceeded.
transfer_result context_length_response();

} // namespace switchyard::test
