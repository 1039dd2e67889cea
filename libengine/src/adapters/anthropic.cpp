// Anthropic's Messages API: system prompt at the top level, content blocks,
// tool_use / tool_result blocks, and a typed event stream.

#include "wire.hpp"

#include <algorithm>

namespace switchyard::wire {

namespace {

finish_reason anthropic_finish(std::string_view raw) {
  if (raw == "end_turn" || raw == "stop_sequence")
    return finish_reason::stop;
  if (raw == "max_tokens")
    return finish_reason::length;
  if (raw == "tool_use")
    return finish_reason::tool_calls;
  if (raw == "refusal")
    return finish_reason::content_filter;
  return finish_reason::unknown;
}

expected<json, failure> block_of(const content_part& p) {
  if (p.type == "text")
    return json{{"type", "text"}, {"text", p.text}};
  if (p.type == "image_url") {
    auto url = image_url_of(p);
    if (auto data = parse_data_url(url))
      return json{{"type", "image"},
                  {"source",
                   {{"type", "base64"},
                    {"media_type", data->media_type},
                    {"data", data->data}}}};
    if (url.starts_with("http://") || url.starts_with("https://"))
      return json{{"type", "image"},
                  {"source", {{"type", "url"}, {"url", url}}}};
    return unexpected{
        bad_request("anthropic_messages: image_url needs a data: or http URL")};
  }
  return unexpected{bad_request("anthropic_messages: content part of type '"
                                + p.type + "' is not supported")};
}

/// A message's content: a plain string, or blocks when it has parts.
expected<json, failure> content_of(const message& m) {
  if (m.parts.empty())
    return json(m.text);
  json blocks = json::array();
  for (const auto& p : m.parts) {
    auto b = block_of(p);
    if (!b)
      return b;
    blocks.push_back(std::move(*b));
  }
  return blocks;
}

expected<json, failure> assistant_with_tools(const message& m) {
  json blocks = json::array();
  auto text = m.plain_text();
  if (!text.empty())
    blocks.push_back({{"type", "text"}, {"text", text}});
  for (const auto& c : m.tool_calls) {
    auto input = tool_arguments(c, "anthropic_messages");
    if (!input)
      return unexpected{input.error()};
    blocks.push_back({{"type", "tool_use"},
                      {"id", c.id},
                      {"name", c.name},
                      {"input", std::move(*input)}});
  }
  return json{{"role", "assistant"}, {"content", std::move(blocks)}};
}

/// Translates OpenAI-shaped messages; consecutive tool results share one
/// user message, as Anthropic requires for parallel tool calls.
expected<json, failure> anthropic_messages(const chat_request& req,
                                           std::string& system) {
  json out = json::array();
  bool last_was_tool = false;
  for (const auto& m : req.messages) {
    if (m.from == role::system) {
      for (const auto& p : m.parts)
        if (p.type != "text")
          return unexpected{
              bad_request("anthropic_messages: system messages must be text")};
      if (!system.empty())
        system += "\n\n";
      system += m.plain_text();
      continue;
    }
    if (m.from == role::tool) {
      if (m.tool_call_id.empty())
        return unexpected{bad_request(
            "anthropic_messages: tool result without tool_call_id")};
      json block = {{"type", "tool_result"},
                    {"tool_use_id", m.tool_call_id},
                    {"content", m.plain_text()}};
      if (last_was_tool)
        out.back()["content"].push_back(std::move(block));
      else
        out.push_back({{"role", "user"}, {"content", json::array({block})}});
      last_was_tool = true;
      continue;
    }
    last_was_tool = false;
    if (m.from == role::assistant && !m.tool_calls.empty()) {
      auto msg = assistant_with_tools(m);
      if (!msg)
        return msg;
      out.push_back(std::move(*msg));
      continue;
    }
    auto content = content_of(m);
    if (!content)
      return content;
    out.push_back({{"role", m.from == role::assistant ? "assistant" : "user"},
                   {"content", std::move(*content)}});
  }
  return out;
}

expected<json, failure> anthropic_tools(const json& tools) {
  auto fns = function_tools(tools, "anthropic_messages");
  if (!fns)
    return unexpected{fns.error()};
  json out = json::array();
  for (const auto& fn : *fns) {
    json tool = {{"name", fn.name}};
    if (!fn.description.empty())
      tool["description"] = fn.description;
    tool["input_schema"]
        = fn.parameters != nullptr && fn.parameters->is_object()
              ? *fn.parameters
              : json{{"type", "object"}};
    out.push_back(std::move(tool));
  }
  return out;
}

expected<json, failure> anthropic_tool_choice(const json& choice) {
  auto c = read_tool_choice(choice, "anthropic_messages");
  if (!c)
    return unexpected{c.error()};
  switch (c->choice) {
    case tool_choice::mode::automatic:
      return json{{"type", "auto"}};
    case tool_choice::mode::required:
      return json{{"type", "any"}};
    case tool_choice::mode::none:
      return json{{"type", "none"}};
    case tool_choice::mode::function:
      break;
  }
  return json{{"type", "tool"}, {"name", c->function}};
}

usage parse_usage(const json* node, usage u = {}) {
  if (node == nullptr)
    return u;
  auto input = int_of(*node, "input_tokens");
  if (input)
    u.prompt_tokens = *input
                      + int_of(*node, "cache_creation_input_tokens").value_or(0)
                      + int_of(*node, "cache_read_input_tokens").value_or(0);
  if (auto output = int_of(*node, "output_tokens"))
    u.completion_tokens = *output;
  u.total_tokens = u.prompt_tokens + u.completion_tokens;
  return u;
}

/// Decodes Anthropic's typed events (message_start ... message_stop).
class anthropic_decoder final : public stream_decoder {
public:
  std::optional<failure> on_event(const sse_event& ev,
                                  std::vector<stream_event>& out) override {
    if (finished_ || ev.data.empty())
      return std::nullopt;
    auto doc = parse_json(ev.data, "stream event '" + ev.event + "'", 200);
    if (!doc)
      return doc.error();
    auto type = string_of(*doc, "type");
    if (type.empty())
      type = ev.event;
    if (type == "error")
      return classify_error_json(200, {}, *doc, std::nullopt);
    if (type == "message_start") {
      auto msg = member(*doc, "message");
      if (msg == nullptr)
        return malformed("message_start without a message", 200);
      usage_ = parse_usage(member(*msg, "usage"));
      emit(out,
           stream_start{string_of(*msg, "id"), "", string_of(*msg, "model")});
    } else if (type == "content_block_start") {
      auto block = member(*doc, "content_block");
      if (block != nullptr && string_of(*block, "type") == "tool_use") {
        auto index = static_cast<int>(tool_blocks_.size());
        tool_blocks_.push_back(int_of(*doc, "index").value_or(-1));
        produced_ = true;
        emit(out, tool_call_delta{index, string_of(*block, "id"),
                                  string_of(*block, "name"), ""});
      }
    } else if (type == "content_block_delta") {
      auto delta = member(*doc, "delta");
      if (delta == nullptr)
        return malformed("content_block_delta without a delta", 200);
      auto kind = string_of(*delta, "type");
      if (kind == "text_delta") {
        if (auto text = string_of(*delta, "text"); !text.empty()) {
          produced_ = true;
          emit(out, text_delta{std::move(text)});
        }
      } else if (kind == "input_json_delta") {
        produced_ = true;
        emit(out,
             tool_call_delta{tool_index(int_of(*doc, "index").value_or(-1)), "",
                             "", string_of(*delta, "partial_json")});
      }
    } else if (type == "message_delta") {
      if (auto delta = member(*doc, "delta"))
        if (auto reason = string_of(*delta, "stop_reason"); !reason.empty())
          finish_raw_ = std::move(reason);
      usage_ = parse_usage(member(*doc, "usage"), usage_);
    } else if (type == "message_stop") {
      finished_ = true;
      emit(out,
           stream_end{anthropic_finish(finish_raw_), finish_raw_, usage_, {}});
    }
    return std::nullopt;
  }

  bool finished() const noexcept override {
    return finished_;
  }

  bool produced_content() const noexcept override {
    return produced_;
  }

private:
  /// Tool calls are numbered among tool blocks only, as OpenAI numbers them.
  int tool_index(int64_t block) const {
    for (size_t i = 0; i < tool_blocks_.size(); ++i)
      if (tool_blocks_[i] == block)
        return static_cast<int>(i);
    return tool_blocks_.empty() ? 0 : static_cast<int>(tool_blocks_.size() - 1);
  }

  bool finished_ = false;
  bool produced_ = false;
  std::string finish_raw_;
  usage usage_;
  std::vector<int64_t> tool_blocks_;
};

class anthropic final : public adapter {
public:
  provider_kind kind() const noexcept override {
    return provider_kind::anthropic_messages;
  }

  expected<http_request, failure>
  build_request(const chat_request& req, const endpoint& ep) const override {
    auto model = resolve_model(req, ep);
    if (model.empty())
      return unexpected{bad_request("anthropic_messages: no model given")};
    if (req.messages.empty())
      return unexpected{
          bad_request("anthropic_messages: request has no messages")};
    if (!req.response_format.is_null()
        && string_of(req.response_format, "type") != "text")
      return unexpected{
          bad_request("anthropic_messages: response_format is not supported")};
    std::string system;
    auto messages = anthropic_messages(req, system);
    if (!messages)
      return unexpected{messages.error()};
    json body
        = {{"model", model},
           {"max_tokens", req.max_tokens.value_or(ep.default_max_tokens)}};
    if (!system.empty())
      body["system"] = system;
    body["messages"] = std::move(*messages);
    // Anthropic's temperature goes up to 1, OpenAI's to 2: an OpenAI
    // client's hotter request is served at Anthropic's hottest instead of
    // being refused by a fallback.
    if (req.temperature)
      body["temperature"] = std::min(*req.temperature, 1.0);
    if (req.top_p)
      body["top_p"] = *req.top_p;
    if (req.top_k)
      body["top_k"] = *req.top_k;
    // No seed or penalties: Anthropic has none (model.hpp).
    if (!req.stop.empty())
      body["stop_sequences"] = req.stop;
    if (req.stream)
      body["stream"] = true;
    if (has_tools(req)) {
      auto tools = anthropic_tools(req.tools);
      if (!tools)
        return unexpected{tools.error()};
      body["tools"] = std::move(*tools);
      bool serial = req.parallel_tool_calls == false;
      if (!req.tool_choice.is_null() || serial) {
        auto choice = anthropic_tool_choice(
            req.tool_choice.is_null() ? json("auto") : req.tool_choice);
        if (!choice)
          return unexpected{choice.error()};
        // A choice of no tool has nothing to make serial.
        if (serial && (*choice)["type"] != "none")
          (*choice)["disable_parallel_tool_use"] = true;
        body["tool_choice"] = std::move(*choice);
      }
    }
    // Anthropic's metadata knows only user_id; other keys would be refused.
    auto user = req.user;
    if (auto i = req.metadata.find("user_id");
        user.empty() && i != req.metadata.end())
      user = i->second;
    if (!user.empty())
      body["metadata"] = {{"user_id", user}};
    merge_extra(body, req.extra);
    http_request out;
    out.url = join_url(base_url_of(ep, kind()), "/v1", "/messages");
    out.body = dump(body);
    add_headers(out.headers, ep, req.stream, kind());
    out.headers.push_back(
        {"anthropic-version", ep.api_version.empty()
                                  ? std::string{defaults_of(kind()).api_version}
                                  : ep.api_version});
    return out;
  }

  expected<chat_response, failure>
  parse_response(const http_response& resp) const override {
    auto doc = parse_json(resp.body, "response body", resp.status);
    if (!doc)
      return unexpected{doc.error()};
    if (is_error_document(*doc))
      return unexpected{
          classify_error_json(resp.status, resp.headers, *doc, std::nullopt)};
    auto content = member(*doc, "content");
    if (content == nullptr || !content->is_array())
      return unexpected{malformed("response has no content list", resp.status)};
    chat_response out;
    out.id = string_of(*doc, "id");
    out.model = string_of(*doc, "model");
    for (const auto& block : *content) {
      auto type = string_of(block, "type");
      if (type == "text") {
        out.text += string_of(block, "text");
      } else if (type == "tool_use") {
        auto input = member(block, "input");
        out.tool_calls.push_back(
            {string_of(block, "id"), string_of(block, "name"),
             input != nullptr ? dump(*input) : std::string{"{}"}});
      }
    }
    out.finish_raw = string_of(*doc, "stop_reason");
    out.finish = anthropic_finish(out.finish_raw);
    out.usage = parse_usage(member(*doc, "usage"));
    return out;
  }

  std::unique_ptr<stream_decoder> make_stream_decoder() const override {
    return std::make_unique<anthropic_decoder>();
  }

  failure classify(const http_response& resp, wall_time now) const override {
    return classify_error(resp.status, resp.headers, resp.body, now);
  }
};

} // namespace

const adapter& anthropic_adapter() {
  static const anthropic instance;
  return instance;
}

} // namespace switchyard::wire
