#include "wire.hpp"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

namespace switchyard::mock {

namespace {

using ojson = nlohmann::ordered_json;

std::string hex_id(std::string_view prefix, const answer& ans) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(ans.id_hash));
  return std::string{prefix} + buf;
}

int64_t now_seconds() {
  return static_cast<int64_t>(std::time(nullptr));
}

std::string sse(const ojson& data) {
  return "data: " + data.dump() + "\n\n";
}

std::string sse(std::string_view event, const ojson& data) {
  std::string result = "event: ";
  result += event;
  result += '\n';
  result += sse(data);
  return result;
}

ojson openai_usage(const answer& ans) {
  return {{"prompt_tokens", ans.prompt_tokens},
          {"completion_tokens", ans.completion_tokens},
          {"total_tokens", ans.prompt_tokens + ans.completion_tokens}};
}

ojson gemini_chunk(const mock_request& req, const answer& ans,
                   std::string_view text, bool final) {
  ojson cand
      = {{"content",
          {{"parts", ojson::array({{{"text", text}}})}, {"role", "model"}}}};
  if (final)
    cand["finishReason"] = "STOP";
  cand["index"] = 0;
  ojson usage = {{"promptTokenCount", ans.prompt_tokens}};
  if (final)
    usage["candidatesTokenCount"] = ans.completion_tokens;
  usage["totalTokenCount"]
      = ans.prompt_tokens + (final ? ans.completion_tokens : 0);
  return {{"candidates", ojson::array({cand})},
          {"usageMetadata", usage},
          {"modelVersion", req.model}};
}

// The common head of an OpenAI chat chunk.
ojson openai_chunk(const mock_request& req, const answer& ans) {
  return {{"id", hex_id("chatcmpl-", ans)},
          {"object", "chat.completion.chunk"},
          {"created", now_seconds()},
          {"model", req.model}};
}

// JSON string literal for `s`; the library escapes only when needed.
void append_json_string(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      out += ojson(s).dump();
      return;
    }
  }
  out += '"';
  out += s;
  out += '"';
}

// The hot path of the load benchmark: the OpenAI chat body without a DOM.
std::string openai_chat_body(const mock_request& req, const answer& ans) {
  std::string out;
  out.reserve(320 + ans.text.size() + req.model.size());
  out += R"({"id":")";
  out += hex_id("chatcmpl-", ans);
  out += R"(","object":"chat.completion","created":)";
  out += std::to_string(now_seconds());
  out += R"(,"model":)";
  append_json_string(out, req.model);
  out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
  append_json_string(out, ans.text);
  out += R"(,"refusal":null},"logprobs":null,"finish_reason":"stop"}],)";
  out += R"("usage":{"prompt_tokens":)";
  out += std::to_string(ans.prompt_tokens);
  out += R"(,"completion_tokens":)";
  out += std::to_string(ans.completion_tokens);
  out += R"(,"total_tokens":)";
  out += std::to_string(ans.prompt_tokens + ans.completion_tokens);
  out += R"(},"system_fingerprint":"fp_switchyard_mock"})";
  return out;
}

} // namespace

std::string render_body(const mock_request& req, const answer& ans) {
  switch (req.kind) {
    case api::anthropic_messages:
      return ojson{
          {"id", hex_id("msg_", ans)},
          {"type", "message"},
          {"role", "assistant"},
          {"model", req.model},
          {"content", ojson::array({{{"type", "text"}, {"text", ans.text}}})},
          {"stop_reason", "end_turn"},
          {"stop_sequence", nullptr},
          {"usage",
           {{"input_tokens", ans.prompt_tokens},
            {"output_tokens", ans.completion_tokens}}}}
          .dump();
    case api::gemini:
      return gemini_chunk(req, ans, ans.text, true).dump();
    case api::openai_completions:
      return ojson{{"id", hex_id("cmpl-", ans)},
                   {"object", "text_completion"},
                   {"created", now_seconds()},
                   {"model", req.model},
                   {"choices", ojson::array({{{"text", ans.text},
                                              {"index", 0},
                                              {"logprobs", nullptr},
                                              {"finish_reason", "stop"}}})},
                   {"usage", openai_usage(ans)}}
          .dump();
    case api::openai_chat:
      return openai_chat_body(req, ans);
    default: {
      ojson choice = {{"index", 0},
                      {"message",
                       {{"role", "assistant"},
                        {"content", ans.text},
                        {"refusal", nullptr}}},
                      {"logprobs", nullptr},
                      {"finish_reason", "stop"}};
      if (req.kind == api::azure_openai)
        choice["content_filter_results"] = ojson::object();
      return ojson{{"id", hex_id("chatcmpl-", ans)},
                   {"object", "chat.completion"},
                   {"created", now_seconds()},
                   {"model", req.model},
                   {"choices", ojson::array({choice})},
                   {"usage", openai_usage(ans)},
                   {"system_fingerprint", "fp_switchyard_mock"}}
          .dump();
    }
  }
}

std::string render_malformed_body(const mock_request& req) {
  switch (req.kind) {
    case api::anthropic_messages:
      return R"({"id":"msg_mock","type":"message","content":[{"type":"te)";
    case api::gemini:
      return R"({"candidates":[{"content":{"parts":[{"text":"amb)";
    default:
      return R"({"id":"chatcmpl-mock","object":"chat.completion","choi)";
  }
}

std::string render_models() {
  ojson data = ojson::array();
  for (const char* id : {"gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo-instruct",
                         "claude-sonnet-4-20250514", "gemini-2.0-flash"})
    data.push_back({{"id", id},
                    {"object", "model"},
                    {"created", 1732000000},
                    {"owned_by", "switchyard-mock"}});
  return ojson{{"object", "list"}, {"data", data}}.dump();
}

std::vector<std::string> stream_prologue(const mock_request& req,
                                         const answer& ans) {
  switch (req.kind) {
    case api::anthropic_messages: {
      ojson msg
          = {{"id", hex_id("msg_", ans)},
             {"type", "message"},
             {"role", "assistant"},
             {"content", ojson::array()},
             {"model", req.model},
             {"stop_reason", nullptr},
             {"stop_sequence", nullptr},
             {"usage",
              {{"input_tokens", ans.prompt_tokens}, {"output_tokens", 1}}}};
      return {
          sse("message_start", {{"type", "message_start"}, {"message", msg}}),
          sse("content_block_start",
              {{"type", "content_block_start"},
               {"index", 0},
               {"content_block", {{"type", "text"}, {"text", ""}}}}),
          sse("ping", {{"type", "ping"}})};
    }
    case api::gemini:
    case api::openai_completions:
      return {};
    default: {
      auto chunk = openai_chunk(req, ans);
      chunk["choices"] = ojson::array(
          {{{"index", 0},
            {"delta",
             {{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}},
            {"logprobs", nullptr},
            {"finish_reason", nullptr}}});
      if (req.include_usage)
        chunk["usage"] = nullptr;
      return {sse(chunk)};
    }
  }
}

std::string stream_content(const mock_request& req, const answer& ans,
                           std::string_view piece, bool final) {
  switch (req.kind) {
    case api::anthropic_messages:
      return sse("content_block_delta",
                 {{"type", "content_block_delta"},
                  {"index", 0},
                  {"delta", {{"type", "text_delta"}, {"text", piece}}}});
    case api::gemini:
      return sse(gemini_chunk(req, ans, piece, final));
    case api::openai_completions:
      return sse({{"id", hex_id("cmpl-", ans)},
                  {"object", "text_completion"},
                  {"created", now_seconds()},
                  {"model", req.model},
                  {"choices", ojson::array({{{"text", piece},
                                             {"index", 0},
                                             {"logprobs", nullptr},
                                             {"finish_reason", nullptr}}})}});
    default: {
      auto chunk = openai_chunk(req, ans);
      chunk["choices"] = ojson::array({{{"index", 0},
                                        {"delta", {{"content", piece}}},
                                        {"logprobs", nullptr},
                                        {"finish_reason", nullptr}}});
      if (req.include_usage)
        chunk["usage"] = nullptr;
      return sse(chunk);
    }
  }
}

std::vector<std::string> stream_epilogue(const mock_request& req,
                                         const answer& ans) {
  switch (req.kind) {
    case api::anthropic_messages:
      return {sse("content_block_stop",
                  {{"type", "content_block_stop"}, {"index", 0}}),
              sse("message_delta",
                  {{"type", "message_delta"},
                   {"delta",
                    {{"stop_reason", "end_turn"}, {"stop_sequence", nullptr}}},
                   {"usage", {{"output_tokens", ans.completion_tokens}}}}),
              sse("message_stop", {{"type", "message_stop"}})};
    case api::gemini:
      return {}; // the final content chunk carries finishReason
    case api::openai_completions: {
      ojson head = {{"id", hex_id("cmpl-", ans)},
                    {"object", "text_completion"},
                    {"created", now_seconds()},
                    {"model", req.model}};
      auto finish = head;
      finish["choices"] = ojson::array({{{"text", ""},
                                         {"index", 0},
                                         {"logprobs", nullptr},
                                         {"finish_reason", "stop"}}});
      std::vector<std::string> result{sse(finish)};
      if (req.include_usage) {
        head["choices"] = ojson::array();
        head["usage"] = openai_usage(ans);
        result.push_back(sse(head));
      }
      result.emplace_back("data: [DONE]\n\n");
      return result;
    }
    default: {
      auto finish = openai_chunk(req, ans);
      finish["choices"] = ojson::array({{{"index", 0},
                                         {"delta", ojson::object()},
                                         {"logprobs", nullptr},
                                         {"finish_reason", "stop"}}});
      if (req.include_usage)
        finish["usage"] = nullptr;
      std::vector<std::string> result{sse(finish)};
      if (req.include_usage) {
        auto usage = openai_chunk(req, ans);
        usage["choices"] = ojson::array();
        usage["usage"] = openai_usage(ans);
        result.push_back(sse(usage));
      }
      result.emplace_back("data: [DONE]\n\n");
      return result;
    }
  }
}

std::string stream_error(api kind) {
  switch (kind) {
    case api::anthropic_messages:
      return sse("error",
                 {{"type", "error"},
                  {"error",
                   {{"type", "overloaded_error"}, {"message", "Overloaded"}}}});
    case api::gemini:
      return sse(
          {{"error",
            {{"code", 503},
             {"message", "The model is overloaded. Please try again later."},
             {"status", "UNAVAILABLE"}}}});
    default:
      return sse({{"error",
                   {{"message", "The server had an error while processing "
                                "your request. Sorry about that!"},
                    {"type", "server_error"},
                    {"param", nullptr},
                    {"code", nullptr}}}});
  }
}

std::string stream_malformed(api kind) {
  if (kind == api::anthropic_messages)
    return "event: content_block_delta\ndata: "
           "{\"type\":\"content_block_delta\","
           "\"index\":0,\"delta\":{\"type\":\"text_del\n\n";
  return "data: {\"choices\":[{\"delta\":{\"content\":\"amb\n\n";
}

} // namespace switchyard::mock
