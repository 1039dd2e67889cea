#include "json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <simdjson.h>

namespace switchyard::wire {

namespace {

/// The escape of a byte below 0x20, '"' or '\\'; empty when it stays as is.
constexpr std::array<std::string_view, 256> escapes = [] {
  std::array<std::string_view, 256> t{};
  constexpr std::string_view control[32]
      = {"\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005",
         "\\u0006", "\\u0007", "\\b",     "\\t",     "\\n",     "\\u000b",
         "\\f",     "\\r",     "\\u000e", "\\u000f", "\\u0010", "\\u0011",
         "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
         "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d",
         "\\u001e", "\\u001f"};
  for (size_t i = 0; i < 32; ++i)
    t[i] = control[i];
  t['"'] = "\\\"";
  t['\\'] = "\\\\";
  return t;
}();

void key(std::string& out, std::string_view k, bool& first) {
  if (!first)
    out += ',';
  first = false;
  out += '"';
  out += k; // the writer's own keys need no escaping
  out += "\":";
}

void append_tool_calls(std::string& out, const std::vector<tool_call>& calls) {
  out += '[';
  bool first_call = true;
  for (const auto& c : calls) {
    if (!first_call)
      out += ',';
    first_call = false;
    out += R"({"function":{"arguments":)";
    append_json_string(out, c.arguments);
    out += R"(,"name":)";
    append_json_string(out, c.name);
    out += R"(},"id":)";
    append_json_string(out, c.id);
    out += R"(,"type":"function"})";
  }
  out += ']';
}

/// `openai_messages(req)`, written.
std::optional<failure> append_messages(std::string& out,
                                       const chat_request& req) {
  out += '[';
  bool first_msg = true;
  for (const auto& m : req.messages) {
    if (!first_msg)
      out += ',';
    first_msg = false;
    out += R"({"content":)";
    if (!m.parts.empty()) {
      out += '[';
      bool first_part = true;
      for (const auto& p : m.parts) {
        if (!first_part)
          out += ',';
        first_part = false;
        if (p.type == "text") {
          out += R"({"text":)";
          append_json_string(out, p.text);
          out += R"(,"type":"text"})";
        } else if (p.raw.is_object()) {
          append_json(out, p.raw);
        } else {
          return bad_request("content part of type '" + p.type
                             + "' carries no body");
        }
      }
      out += ']';
    } else if (m.text.empty() && !m.tool_calls.empty()) {
      out += "null";
    } else {
      append_json_string(out, m.text);
    }
    if (!m.name.empty()) {
      out += R"(,"name":)";
      append_json_string(out, m.name);
    }
    out += R"(,"role":)";
    append_json_string(out, to_string(m.from));
    if (!m.tool_call_id.empty()) {
      out += R"(,"tool_call_id":)";
      append_json_string(out, m.tool_call_id);
    }
    if (!m.tool_calls.empty()) {
      out += R"(,"tool_calls":)";
      append_tool_calls(out, m.tool_calls);
    }
    out += '}';
  }
  out += ']';
  return std::nullopt;
}

/// The DOM path, for requests with extra members (they may replace any
/// member, and their keys interleave with ours).
expected<std::string, failure> openai_body_dom(const chat_request& req,
                                               std::string_view model,
                                               const std::string* prompt) {
  json body = json::object();
  if (!model.empty())
    body["model"] = model;
  if (prompt != nullptr) {
    body["prompt"] = *prompt;
  } else {
    auto messages = openai_messages(req);
    if (!messages)
      return unexpected{messages.error()};
    body["messages"] = std::move(*messages);
  }
  add_openai_options(body, req);
  merge_extra(body, req.extra);
  return dump(body);
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
  if (!simdjson::validate_utf8(s.data(), s.size())) {
    // Rare: nlohmann's replacement rules for broken sequences, exactly.
    out += dump(json(std::string{s}));
    return;
  }
  out += '"';
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto esc = escapes[static_cast<unsigned char>(s[i])];
    if (esc.empty())
      continue;
    out.append(s.data() + run, i - run);
    out += esc;
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string_view text{buf, static_cast<size_t>(end - buf)};
  out += text;
  // nlohmann writes a float that has an integral value as "1.0".
  if (text.find_first_of(".e") == std::string_view::npos)
    out += ".0";
}

void append_json_number(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_json(std::string& out, const json& j) {
  out += dump(j);
}

expected<std::string, failure> openai_body(const chat_request& req,
                                           std::string_view model,
                                           const std::string* prompt) {
  if (req.extra.is_object() && !req.extra.empty())
    return openai_body_dom(req, model, prompt);
  std::string out;
  size_t guess = 256;
  for (const auto& m : req.messages)
    guess += m.text.size() + 64;
  if (prompt != nullptr)
    guess += prompt->size();
  out.reserve(guess);
  out += '{';
  bool first = true;
  // OpenAI rejects a tool_choice or parallel_tool_calls without tools.
  bool tools = has_tools(req);
  // Members in nlohmann's (sorted) order.
  if (req.frequency_penalty) {
    key(out, "frequency_penalty", first);
    append_json_number(out, *req.frequency_penalty);
  }
  if (req.max_tokens) {
    key(out, "max_tokens", first);
    append_json_number(out, *req.max_tokens);
  }
  if (prompt == nullptr) {
    key(out, "messages", first);
    if (auto err = append_messages(out, req))
      return unexpected{std::move(*err)};
  }
  if (!req.metadata.empty()) {
    key(out, "metadata", first);
    out += '{';
    bool first_entry = true;
    for (const auto& [k, v] : req.metadata) {
      if (!first_entry)
        out += ',';
      first_entry = false;
      append_json_string(out, k);
      out += ':';
      append_json_string(out, v);
    }
    out += '}';
  }
  if (!model.empty()) {
    key(out, "model", first);
    append_json_string(out, model);
  }
  if (tools && req.parallel_tool_calls) {
    key(out, "parallel_tool_calls", first);
    out += *req.parallel_tool_calls ? "true" : "false";
  }
  if (req.presence_penalty) {
    key(out, "presence_penalty", first);
    append_json_number(out, *req.presence_penalty);
  }
  if (prompt != nullptr) {
    key(out, "prompt", first);
    append_json_string(out, *prompt);
  }
  if (!req.response_format.is_null()) {
    key(out, "response_format", first);
    append_json(out, req.response_format);
  }
  if (req.seed) {
    key(out, "seed", first);
    append_json_number(out, *req.seed);
  }
  if (!req.stop.empty()) {
    key(out, "stop", first);
    out += '[';
    for (size_t i = 0; i < req.stop.size(); ++i) {
      if (i != 0)
        out += ',';
      append_json_string(out, req.stop[i]);
    }
    out += ']';
  }
  if (req.stream) {
    key(out, "stream", first);
    out += "true";
    key(out, "stream_options", first);
    out += R"({"include_usage":true})";
  }
  if (req.temperature) {
    key(out, "temperature", first);
    append_json_number(out, *req.temperature);
  }
  if (tools && !req.tool_choice.is_null()) {
    key(out, "tool_choice", first);
    append_json(out, req.tool_choice);
  }
  if (tools) {
    key(out, "tools", first);
    append_json(out, req.tools);
  }
  if (req.top_p) {
    key(out, "top_p", first);
    append_json_number(out, *req.top_p);
  }
  if (!req.user.empty()) {
    key(out, "user", first);
    append_json_string(out, req.user);
  }
  out += '}';
  return out;
}

} // namespace switchyard::wire
