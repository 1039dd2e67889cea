// The OpenAI chat wire format, spoken by OpenAI itself, Azure OpenAI and the
// many OpenAI-compatible servers (vLLM, llama.cpp, Ollama, gateways).

#include "fast_json.hpp"
#include "json_writer.hpp"
#include "wire.hpp"

namespace switchyard::wire {

namespace {

json openai_tool_calls(const std::vector<tool_call>& calls) {
  json out = json::array();
  for (const auto& c : calls)
    out.push_back(
        {{"id", c.id},
         {"type", "function"},
         {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  return out;
}

/// Text of an OpenAI `content`: a string, null, or a list of parts.
std::string content_text(std::optional<fast::element> content) {
  if (!content)
    return {};
  std::string_view s;
  if (fast::get_string(*content, s))
    return std::string{s};
  std::string out;
  simdjson::dom::array parts;
  if (!content->get(parts))
    for (auto part : parts)
      out += fast::string_of(part, "text");
  return out;
}

std::vector<tool_call> parse_tool_calls(fast::element msg) {
  std::vector<tool_call> out;
  simdjson::dom::array calls;
  auto node = fast::member(msg, "tool_calls");
  if (!node || node->get(calls))
    return out;
  for (auto c : calls) {
    tool_call tc;
    tc.id = fast::string_of(c, "id");
    if (auto fn = fast::member(c, "function")) {
      tc.name = fast::string_of(*fn, "name");
      if (auto args = fast::member(*fn, "arguments")) {
        std::string_view s;
        tc.arguments
            = fast::get_string(*args, s) ? std::string{s} : fast::dump(*args);
      }
    }
    out.push_back(std::move(tc));
  }
  return out;
}

std::optional<usage> parse_usage(fast::element doc) {
  auto node = fast::member(doc, "usage");
  if (!node || !node->is_object())
    return std::nullopt;
  usage u;
  u.prompt_tokens = fast::int_of(*node, "prompt_tokens").value_or(0);
  u.completion_tokens = fast::int_of(*node, "completion_tokens").value_or(0);
  u.total_tokens = fast::int_of(*node, "total_tokens")
                       .value_or(u.prompt_tokens + u.completion_tokens);
  return u;
}

/// True when a parsed 2xx body is an error document instead of an answer
/// (as `is_error_document` decides for a nlohmann document).
bool is_error_document(fast::element doc) {
  if (auto err = fast::member(doc, "error"); err && !err->is_null())
    return true;
  return fast::string_of(doc, "type") == "error";
}

/// Decodes OpenAI's `chat.completion.chunk` (and `text_completion`) stream.
class openai_decoder final : public stream_decoder {
public:
  std::optional<failure> on_event(const sse_event& ev,
                                  std::vector<stream_event>& out) override {
    if (finished_)
      return std::nullopt;
    std::string_view data = ev.data;
    while (!data.empty() && (data.back() == ' ' || data.back() == '\r'))
      data.remove_suffix(1);
    if (data == "[DONE]") {
      finished_ = true;
      start(out);
      emit(out,
           stream_end{openai_finish(finish_raw_), finish_raw_, usage_, {}});
      return std::nullopt;
    }
    if (data.empty())
      return std::nullopt;
    std::optional<failure> result;
    bool parsed = fast::with_document(data, [&](fast::element doc) {
      if (is_error_document(doc)) {
        result = classify_error(200, {}, data, std::nullopt);
        return;
      }
      if (auto u = parse_usage(doc))
        usage_ = *u;
      simdjson::dom::array choices;
      auto node = fast::member(doc, "choices");
      if (!node || node->get(choices) || choices.size() == 0)
        return;
      if (!started_) {
        id_ = fast::string_of(doc, "id");
        model_ = fast::string_of(doc, "model");
      }
      start(out);
      fast::element choice = choices.at(0).value_unsafe();
      if (auto delta = fast::member(choice, "delta")) {
        text(content_text(fast::member(*delta, "content")), out);
        simdjson::dom::array calls;
        if (auto node = fast::member(*delta, "tool_calls");
            node && !node->get(calls)) {
          int i = 0;
          for (auto call : calls)
            tool_delta(call, i++, out);
        }
      }
      text(fast::string_of(choice, "text"), out);
      if (auto reason = fast::string_of(choice, "finish_reason");
          !reason.empty())
        finish_raw_ = std::move(reason);
    });
    if (!parsed)
      return malformed("stream chunk is not valid JSON", 200);
    return result;
  }

  bool finished() const noexcept override {
    return finished_;
  }

  bool produced_content() const noexcept override {
    return produced_;
  }

private:
  void start(std::vector<stream_event>& out) {
    if (started_)
      return;
    started_ = true;
    emit(out, stream_start{id_, "", model_});
  }

  void text(std::string s, std::vector<stream_event>& out) {
    if (s.empty())
      return;
    produced_ = true;
    emit(out, text_delta{std::move(s)});
  }

  void tool_delta(fast::element call, int position,
                  std::vector<stream_event>& out) {
    tool_call_delta d;
    d.index = static_cast<int>(fast::int_of(call, "index").value_or(position));
    d.id = fast::string_of(call, "id");
    if (auto fn = fast::member(call, "function")) {
      d.name = fast::string_of(*fn, "name");
      d.arguments = fast::string_of(*fn, "arguments");
    }
    produced_ = true;
    emit(out, std::move(d));
  }

  bool started_ = false;
  bool finished_ = false;
  bool produced_ = false;
  std::string id_;
  std::string model_;
  std::string finish_raw_;
  std::optional<usage> usage_;
};

/// One class for the three chat-completions dialects; they differ only in
/// addressing and authentication.
class openai_family final : public adapter {
public:
  explicit openai_family(provider_kind k) : kind_(k) {
    // nop
  }

  provider_kind kind() const noexcept override {
    return kind_;
  }

  expected<http_request, failure>
  build_request(const chat_request& req, const endpoint& ep) const override {
    // The kind's name starts every message (built only for a failure).
    auto fail = [this](std::string_view what) {
      return unexpected{bad_request(std::string{to_string(kind_)} + ": "
                                    + std::string{what})};
    };
    http_request out;
    std::string_view model;
    if (kind_ == provider_kind::azure_openai) {
      if (ep.base_url.empty() || ep.deployment.empty()
          || ep.api_version.empty())
        return fail("endpoint needs base_url, deployment and api_version");
      out.url
          = join_url(ep.base_url, "",
                     "/openai/deployments/" + ep.deployment
                         + "/chat/completions?api-version=" + ep.api_version);
    } else {
      model = ep.model.empty() ? req.model : ep.model; // resolve_model
      if (model.empty() && kind_ == provider_kind::openai_chat)
        return fail("no model given");
      if (ep.base_url.empty() && kind_ == provider_kind::openai_compatible)
        return fail("endpoint has no base_url");
      out.url = join_url(base_url_of(ep, kind_), "/v1", "/chat/completions");
    }
    if (req.messages.empty())
      return fail("request has no messages");
    auto body = openai_body(req, model, nullptr);
    if (!body)
      return unexpected{std::move(body.error())};
    out.body = std::move(*body);
    add_headers(out.headers, ep, req.stream, kind_);
    return out;
  }

  expected<chat_response, failure>
  parse_response(const http_response& resp) const override {
    return parse_openai_response(resp);
  }

  std::unique_ptr<stream_decoder> make_stream_decoder() const override {
    return make_openai_decoder();
  }

  failure classify(const http_response& resp, wall_time now) const override {
    return classify_error(resp.status, resp.headers, resp.body, now);
  }

private:
  provider_kind kind_;
};

} // namespace

expected<json, failure> openai_messages(const chat_request& req) {
  json out = json::array();
  for (const auto& m : req.messages) {
    json msg = {{"role", std::string{to_string(m.from)}}};
    if (!m.parts.empty()) {
      json parts = json::array();
      for (const auto& p : m.parts) {
        if (p.type == "text")
          parts.push_back({{"type", "text"}, {"text", p.text}});
        else if (p.raw.is_object())
          parts.push_back(p.raw);
        else
          return unexpected{bad_request("content part of type '" + p.type
                                        + "' carries no body")};
      }
      msg["content"] = std::move(parts);
    } else if (m.text.empty() && !m.tool_calls.empty()) {
      msg["content"] = nullptr;
    } else {
      msg["content"] = m.text;
    }
    if (!m.name.empty())
      msg["name"] = m.name;
    if (!m.tool_call_id.empty())
      msg["tool_call_id"] = m.tool_call_id;
    if (!m.tool_calls.empty())
      msg["tool_calls"] = openai_tool_calls(m.tool_calls);
    out.push_back(std::move(msg));
  }
  return out;
}

void add_openai_options(json& body, const chat_request& req) {
  if (req.temperature)
    body["temperature"] = *req.temperature;
  if (req.top_p)
    body["top_p"] = *req.top_p;
  if (req.max_tokens)
    body["max_tokens"] = *req.max_tokens;
  if (req.seed)
    body["seed"] = *req.seed;
  if (req.presence_penalty)
    body["presence_penalty"] = *req.presence_penalty;
  if (req.frequency_penalty)
    body["frequency_penalty"] = *req.frequency_penalty;
  if (!req.stop.empty())
    body["stop"] = req.stop;
  if (req.stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  // OpenAI rejects a tool_choice without tools.
  if (has_tools(req)) {
    body["tools"] = req.tools;
    if (!req.tool_choice.is_null())
      body["tool_choice"] = req.tool_choice;
    if (req.parallel_tool_calls)
      body["parallel_tool_calls"] = *req.parallel_tool_calls;
  }
  if (!req.response_format.is_null())
    body["response_format"] = req.response_format;
  if (!req.user.empty())
    body["user"] = req.user;
  if (!req.metadata.empty())
    body["metadata"] = req.metadata;
}

expected<chat_response, failure> parse_openai_response(const http_response& r) {
  expected<chat_response, failure> result
      = unexpected{malformed("response has no choices", r.status)};
  bool parsed = fast::with_document(r.body, [&](fast::element doc) {
    if (is_error_document(doc)) {
      result = unexpected{
          classify_error(r.status, r.headers, r.body, std::nullopt)};
      return;
    }
    simdjson::dom::array choices;
    auto node = fast::member(doc, "choices");
    if (!node || node->get(choices) || choices.size() == 0)
      return;
    fast::element choice = choices.at(0).value_unsafe();
    if (!choice.is_object())
      return;
    chat_response out;
    out.id = fast::string_of(doc, "id");
    out.model = fast::string_of(doc, "model");
    std::string_view text;
    if (auto msg = fast::member(choice, "message"); msg && msg->is_object()) {
      out.text = content_text(fast::member(*msg, "content"));
      out.tool_calls = parse_tool_calls(*msg);
    } else if (auto t = fast::member(choice, "text");
               t && fast::get_string(*t, text)) {
      out.text = std::string{text};
    } else {
      result = unexpected{
          malformed("choices[0] has neither a message nor a text", r.status)};
      return;
    }
    out.finish_raw = fast::string_of(choice, "finish_reason");
    out.finish = openai_finish(out.finish_raw);
    out.usage = parse_usage(doc).value_or(usage{});
    result = std::move(out);
  });
  if (!parsed)
    return unexpected{malformed("response body is not valid JSON", r.status)};
  return result;
}

std::unique_ptr<stream_decoder> make_openai_decoder() {
  return std::make_unique<openai_decoder>();
}

const adapter& openai_chat_adapter() {
  static const openai_family instance{provider_kind::openai_chat};
  return instance;
}

const adapter& openai_compatible_adapter() {
  static const openai_family instance{provider_kind::openai_compatible};
  return instance;
}

const adapter& azure_openai_adapter() {
  static const openai_family instance{provider_kind::azure_openai};
  return instance;
}

} // namespace switchyard::wire
