#include "support_fake_client.hpp"

#include <algorithm>
#include <utility>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

namespace switchyard::test {

std::string fake_job::model() const {
  auto doc = nlohmann::json::parse(job.request.body, nullptr, false);
  if (doc.is_object() && doc.contains("model") && doc["model"].is_string())
    return doc["model"].get<std::string>();
  return {};
}

uint64_t fake_client::submit(http_job job,
                             std::shared_ptr<transfer_sink> sink) {
  std::lock_guard guard{mtx_};
  auto id = next_id_++;
  jobs_.push_back(fake_job{id, std::move(job), std::move(sink)});
  return id;
}

void fake_client::cancel(uint64_t id) {
  std::shared_ptr<transfer_sink> sink;
  {
    std::lock_guard guard{mtx_};
    cancels_.push_back(id);
    auto i = std::find_if(jobs_.begin(), jobs_.end(),
                          [id](const fake_job& j) { return j.id == id; });
    if (i == jobs_.end() || i->done)
      return;
    i->done = true;
    i->cancelled = true;
    sink = i->sink;
  }
  transfer_result tr;
  tr.error = transport_error::cancelled;
  tr.detail = "cancelled";
  sink->on_complete(std::move(tr));
}

void fake_client::answer(uint64_t id, transfer_result result) {
  std::shared_ptr<transfer_sink> sink;
  {
    std::lock_guard guard{mtx_};
    auto i = std::find_if(jobs_.begin(), jobs_.end(),
                          [id](const fake_job& j) { return j.id == id; });
    if (i == jobs_.end())
      CAF_FAIL("answer to unknown job " << id);
    if (i->done)
      CAF_FAIL("answer to job " << id << " that already ended");
    i->done = true;
    sink = i->sink;
  }
  sink->on_complete(std::move(result));
}

void fake_client::chunk(uint64_t id, std::string_view bytes) {
  std::shared_ptr<transfer_sink> sink;
  {
    std::lock_guard guard{mtx_};
    auto i = std::find_if(jobs_.begin(), jobs_.end(),
                          [id](const fake_job& j) { return j.id == id; });
    if (i == jobs_.end())
      CAF_FAIL("chunk for unknown job " << id);
    if (i->done)
      CAF_FAIL("chunk for job " << id << " that already ended");
    sink = i->sink;
  }
  sink->on_chunk(bytes);
}

transfer_result stream_ok() {
  transfer_result tr;
  tr.response.status = 200;
  tr.response.headers.emplace_back("content-type", "text/event-stream");
  return tr;
}

std::string sse_text(std::string_view text) {
  nlohmann::json chunk{
      {"id", "chatcmpl-1"},
      {"object", "chat.completion.chunk"},
      {"model", "served-model"},
      {"choices",
       {{{"index", 0}, {"delta", {{"content", std::string{text}}}}}}}};
  return "data: " + chunk.dump() + "\n\n";
}

std::string sse_done(int64_t completion) {
  nlohmann::json fin{{"id", "chatcmpl-1"},
                     {"object", "chat.completion.chunk"},
                     {"model", "served-model"},
                     {"choices",
                      {{{"index", 0},
                        {"delta", nlohmann::json::object()},
                        {"finish_reason", "stop"}}}},
                     {"usage",
                      {{"prompt_tokens", 7},
                       {"completion_tokens", completion},
                       {"total_tokens", 7 + completion}}}};
  return "data: " + fin.dump() + "\n\ndata: [DONE]\n\n";
}

std::vector<fake_job> fake_client::jobs() const {
  std::lock_guard guard{mtx_};
  return jobs_;
}

size_t fake_client::job_count() const {
  std::lock_guard guard{mtx_};
  return jobs_.size();
}

size_t fake_client::job_count(const std::string& model) const {
  std::lock_guard guard{mtx_};
  return static_cast<size_t>(
      std::count_if(jobs_.begin(), jobs_.end(),
                    [&](const fake_job& j) { return j.model() == model; }));
}

fake_job fake_client::job(size_t n) const {
  std::lock_guard guard{mtx_};
  if (n >= jobs_.size())
    CAF_FAIL("no job #" << n << ": only " << jobs_.size() << " submitted");
  return jobs_[n];
}

fake_job fake_client::last_job(const std::string& model) const {
  std::lock_guard guard{mtx_};
  for (auto i = jobs_.rbegin(); i != jobs_.rend(); ++i)
    if (i->model() == model)
      return *i;
  CAF_FAIL("no job for model " << model);
}

std::vector<uint64_t> fake_client::open_jobs() const {
  std::lock_guard guard{mtx_};
  std::vector<uint64_t> out;
  for (const auto& j : jobs_)
    if (!j.done)
      out.push_back(j.id);
  return out;
}

std::vector<uint64_t> fake_client::cancels() const {
  std::lock_guard guard{mtx_};
  return cancels_;
}

namespace {

transfer_result http(int status, header_list headers, std::string body) {
  transfer_result tr;
  tr.response.status = status;
  headers.push_back({"Content-Type", "application/json"});
  tr.response.headers = std::move(headers);
  tr.response.body = std::move(body);
  return tr;
}

} // namespace

transfer_result ok_response(const std::string& text) {
  nlohmann::json doc = {
      {"id", "chatcmpl-9x2Yb3"},
      {"object", "chat.completion"},
      {"created", 1732000000},
      {"model", "gpt-4o-mini-2024-07-18"},
      {"choices",
       {{{"index", 0},
         {"message",
          {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
         {"logprobs", nullptr},
         {"finish_reason", "stop"}}}},
      {"usage",
       {{"prompt_tokens", 24}, {"completion_tokens", 2}, {"total_tokens", 26}}},
      {"system_fingerprint", "fp_0ba0d124f1"},
  };
  return http(200, {{"x-request-id", "req_7c1f0c2b9d"}}, doc.dump());
}

transfer_result rate_limited_response(int64_t retry_after_ms) {
  return http(
      429,
      {{"retry-after", std::to_string((retry_after_ms + 999) / 1000)},
       {"retry-after-ms", std::to_string(retry_after_ms)}},
      R"({"error":{"message":"Rate limit reached for gpt-4o in organization )"
      R"(org-x on requests per min (RPM): Limit 500, Used 500, Requested 1. )"
      R"(Please try again in 1.85s.","type":"requests","param":null,)"
      R"("code":"rate_limit_exceeded"}})");
}

transfer_result server_error_response() {
  return http(
      500, {},
      R"({"error":{"message":"The server had an error while processing your )"
      R"(request. Sorry about that!","type":"server_error","param":null,)"
      R"("code":null}})");
}

transfer_result overloaded_response() {
  return http(
      503, {},
      R"({"error":{"message":"The engine is currently overloaded, please try )"
      R"(again later.","type":"server_error","param":null,"code":null}})");
}

transfer_result unauthorized_response() {
  return http(
      401, {},
      R"({"error":{"message":"Incorrect API key provided: sk-REDA****. You )"
      R"(can find your API key at https://platform.openai.com/account/)"
      R"(api-keys.","type":"invalid_request_error","param":null,)"
      R"("code":"invalid_api_key"}})");
}

transfer_result bad_request_response() {
  return http(
      404, {},
      R"({"error":{"message":"The model `gpt-9` does not exist or you do not )"
      R"(have access to it.","type":"invalid_request_error","param":null,)"
      R"("code":"model_not_found"}})");
}

transfer_result context_length_response() {
  return http(
      400, {},
      R"({"error":{"message":"This model's maximum context length is 128000 )"
      R"(tokens. However, your messages resulted in 130512 tokens. Please )"
      R"(reduce the length of the messages.","type":"invalid_request_error",)"
      R"("param":"messages","code":"context_length_exceeded"}})");
}

} // namespace switchyard::test
