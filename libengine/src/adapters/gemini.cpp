// Google's Gemini API (generativelanguage.googleapis.com, v1beta):
// contents/parts, role "model", systemInstruction, generationConfig.

#include "wire.hpp"

namespace switchyard::wire {

namespace {

finish_reason gemini_finish(std::string_view raw) {
  if (raw == "STOP")
    return finish_reason::stop;
  if (raw == "MAX_TOKENS")
    return finish_reason::length;
  if (raw == "SAFETY" || raw == "RECITATION" || raw == "PROHIBITED_CONTENT"
      || raw == "BLOCKLIST" || raw == "SPII" || raw == "IMAGE_SAFETY")
    return finish_reason::content_filter;
  if (raw == "MALFORMED_FUNCTION_CALL")
    return finish_reason::error;
  return finish_reason::unknown;
}

expected<json, failure> part_of(const content_part& p) {
  if (p.type == "text")
    return json{{"text", p.text}};
  if (p.type == "image_url") {
    if (auto data = parse_data_url(image_url_of(p)))
      return json{{"inlineData",
                   {{"mimeType", data->media_type}, {"data", data->data}}}};
    return unexpected{bad_request("gemini: image_url must be a data: URL")};
  }
  return unexpected{bad_request("gemini: content part of type '" + p.type
                                + "' is not supported")};
}

/// The name of the function a tool result answers, found in the call.
std::string function_name(const chat_request& req, const message& result) {
  if (!result.name.empty())
    return result.name;
  for (const auto& m : req.messages)
    for (const auto& c : m.tool_calls)
      if (c.id == result.tool_call_id)
        return c.name;
  return {};
}

expected<json, failure> parts_of(const chat_request& req, const message& m) {
  json parts = json::array();
  if (m.from == role::tool) {
    auto name = function_name(req, m);
    if (name.empty())
      return unexpected{bad_request("gemini: tool result '" + m.tool_call_id
                                    + "' names no function")};
    auto text = m.plain_text();
    auto response = json::parse(text, nullptr, false);
    if (response.is_discarded() || !response.is_object())
      response = {{"content", text}};
    parts.push_back(
        {{"functionResponse", {{"name", name}, {"response", response}}}});
    return parts;
  }
  if (m.parts.empty()) {
    if (!m.text.empty() || m.tool_calls.empty())
      parts.push_back({{"text", m.text}});
  } else {
    for (const auto& p : m.parts) {
      auto part = part_of(p);
      if (!part)
        return part;
      parts.push_back(std::move(*part));
    }
  }
  for (const auto& c : m.tool_calls) {
    auto args = tool_arguments(c, "gemini");
    if (!args)
      return unexpected{args.error()};
    parts.push_back(
        {{"functionCall", {{"name", c.name}, {"args", std::move(*args)}}}});
  }
  return parts;
}

expected<json, failure> gemini_tools(const json& tools) {
  auto fns = function_tools(tools, "gemini");
  if (!fns)
    return unexpected{fns.error()};
  json decls = json::array();
  for (const auto& fn : *fns) {
    json decl = {{"name", fn.name}};
    if (!fn.description.empty())
      decl["description"] = fn.description;
    if (fn.parameters != nullptr)
      decl["parameters"] = *fn.parameters;
    decls.push_back(std::move(decl));
  }
  return json::array({{{"functionDeclarations", std::move(decls)}}});
}

expected<json, failure> gemini_tool_config(const json& choice) {
  auto c = read_tool_choice(choice, "gemini");
  if (!c)
    return unexpected{c.error()};
  json cfg;
  switch (c->choice) {
    case tool_choice::mode::automatic:
      cfg = {{"mode", "AUTO"}};
      break;
    case tool_choice::mode::required:
      cfg = {{"mode", "ANY"}};
      break;
    case tool_choice::mode::none:
      cfg = {{"mode", "NONE"}};
      break;
    case tool_choice::mode::function:
      cfg = {{"mode", "ANY"},
             {"allowedFunctionNames", json::array({c->function})}};
      break;
  }
  return json{{"functionCallingConfig", std::move(cfg)}};
}

expected<json, failure> generation_config(const chat_request& req) {
  json cfg = json::object();
  if (req.temperature)
    cfg["temperature"] = *req.temperature;
  if (req.top_p)
    cfg["topP"] = *req.top_p;
  if (req.max_tokens)
    cfg["maxOutputTokens"] = *req.max_tokens;
  if (req.top_k)
    cfg["topK"] = *req.top_k;
  if (req.seed)
    cfg["seed"] = *req.seed;
  if (req.presence_penalty)
    cfg["presencePenalty"] = *req.presence_penalty;
  if (req.frequency_penalty)
    cfg["frequencyPenalty"] = *req.frequency_penalty;
  if (!req.stop.empty())
    cfg["stopSequences"] = req.stop;
  if (!req.response_format.is_null()) {
    auto type = string_of(req.response_format, "type");
    if (type == "json_object") {
      cfg["responseMimeType"] = "application/json";
    } else if (type == "json_schema") {
      cfg["responseMimeType"] = "application/json";
      if (auto js = member(req.response_format, "json_schema"))
        if (auto schema = member(*js, "schema"))
          cfg["responseJsonSchema"] = *schema;
    } else if (type != "text") {
      return unexpected{bad_request("gemini: response_format of type '" + type
                                    + "' is not supported")};
    }
  }
  return cfg;
}

usage parse_usage(const json& doc) {
  usage u;
  auto meta = member(doc, "usageMetadata");
  if (meta == nullptr)
    return u;
  u.prompt_tokens = int_of(*meta, "promptTokenCount").value_or(0);
  u.completion_tokens = int_of(*meta, "candidatesTokenCount").value_or(0);
  u.total_tokens = int_of(*meta, "totalTokenCount")
                       .value_or(u.prompt_tokens + u.completion_tokens);
  return u;
}

/// A blocked prompt comes as a 2xx without candidates: a content_filter
/// failure, so that the engine can fall back on policy.
std::optional<failure> blocked(const json& doc, int status) {
  auto feedback = member(doc, "promptFeedback");
  auto reason = feedback ? string_of(*feedback, "blockReason") : std::string{};
  if (reason.empty())
    return std::nullopt;
  failure f;
  f.cls = error_class::content_filter;
  f.status = status;
  f.code = reason;
  f.message = "gemini blocked the prompt: " + reason;
  return f;
}

/// Text and function calls of the first candidate's parts.
void read_parts(const json& candidate, std::string& text,
                std::vector<tool_call>& calls) {
  auto content = member(candidate, "content");
  auto parts = content ? member(*content, "parts") : nullptr;
  if (parts == nullptr || !parts->is_array())
    return;
  for (const auto& p : *parts) {
    if (auto thought = member(p, "thought");
        thought && thought->is_boolean() && thought->get<bool>())
      continue;
    text += string_of(p, "text");
    if (auto fn = member(p, "functionCall")) {
      auto args = member(*fn, "args");
      auto id = string_of(*fn, "id");
      calls.push_back({id.empty() ? "call_" + std::to_string(calls.size()) : id,
                       string_of(*fn, "name"),
                       args ? dump(*args) : std::string{"{}"}});
    }
  }
}

/// Gemini says STOP even when it answers with function calls.
finish_reason finish_of(std::string_view raw, bool has_calls) {
  auto f = gemini_finish(raw);
  return f == finish_reason::stop && has_calls ? finish_reason::tool_calls : f;
}

/// Decodes `streamGenerateContent?alt=sse`: every event is a full
/// GenerateContentResponse holding the next piece.
class gemini_decoder final : public stream_decoder {
public:
  std::optional<failure> on_event(const sse_event& ev,
                                  std::vector<stream_event>& out) override {
    if (finished_ || ev.data.empty())
      return std::nullopt;
    auto doc = parse_json(ev.data, "stream chunk", 200);
    if (!doc)
      return doc.error();
    if (is_error_document(*doc))
      return classify_error_json(200, {}, *doc, std::nullopt);
    if (auto f = blocked(*doc, 200))
      return f;
    if (!started_) {
      started_ = true;
      emit(out, stream_start{string_of(*doc, "responseId"), "",
                             string_of(*doc, "modelVersion")});
    }
    if (member(*doc, "usageMetadata") != nullptr)
      usage_ = parse_usage(*doc);
    auto candidates = member(*doc, "candidates");
    if (candidates == nullptr || !candidates->is_array() || candidates->empty())
      return std::nullopt;
    const auto& candidate = candidates->front();
    std::string text;
    std::vector<tool_call> calls;
    read_parts(candidate, text, calls);
    if (!text.empty()) {
      produced_ = true;
      emit(out, text_delta{std::move(text)});
    }
    for (auto& c : calls) {
      produced_ = true;
      emit(out, tool_call_delta{tool_calls_++, std::move(c.id),
                                std::move(c.name), std::move(c.arguments)});
    }
    if (auto reason = string_of(candidate, "finishReason"); !reason.empty()) {
      finished_ = true;
      emit(out,
           stream_end{finish_of(reason, tool_calls_ > 0), reason, usage_, {}});
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
  bool started_ = false;
  bool finished_ = false;
  bool produced_ = false;
  int tool_calls_ = 0;
  std::optional<usage> usage_;
};

class gemini final : public adapter {
public:
  provider_kind kind() const noexcept override {
    return provider_kind::gemini;
  }

  expected<http_request, failure>
  build_request(const chat_request& req, const endpoint& ep) const override {
    auto model = resolve_model(req, ep);
    if (model.empty())
      return unexpected{bad_request("gemini: no model given")};
    if (req.messages.empty())
      return unexpected{bad_request("gemini: request has no messages")};
    json body = json::object();
    json system = json::array();
    json contents = json::array();
    bool last_was_tool = false;
    for (const auto& m : req.messages) {
      auto parts = parts_of(req, m);
      if (!parts)
        return unexpected{parts.error()};
      if (m.from == role::system) {
        for (auto& p : *parts)
          system.push_back(std::move(p));
        continue;
      }
      // Answers to parallel calls travel together in one turn.
      bool tool = m.from == role::tool;
      if (tool && last_was_tool) {
        for (auto& p : *parts)
          contents.back()["parts"].push_back(std::move(p));
        continue;
      }
      last_was_tool = tool;
      contents.push_back(
          {{"role", m.from == role::assistant ? "model" : "user"},
           {"parts", std::move(*parts)}});
    }
    if (!system.empty())
      body["systemInstruction"] = {{"parts", std::move(system)}};
    body["contents"] = std::move(contents);
    auto cfg = generation_config(req);
    if (!cfg)
      return unexpected{cfg.error()};
    if (!cfg->empty())
      body["generationConfig"] = std::move(*cfg);
    if (has_tools(req)) {
      auto tools = gemini_tools(req.tools);
      if (!tools)
        return unexpected{tools.error()};
      body["tools"] = std::move(*tools);
      if (!req.tool_choice.is_null()) {
        auto choice = gemini_tool_config(req.tool_choice);
        if (!choice)
          return unexpected{choice.error()};
        body["toolConfig"] = std::move(*choice);
      }
    }
    merge_extra(body, req.extra);
    auto path = model.find('/') == std::string::npos ? "/models/" + model
                                                     : "/" + model;
    path += req.stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
    http_request out;
    out.url = join_url(base_url_of(ep, kind()), "/v1beta", path);
    out.body = dump(body);
    add_headers(out.headers, ep, req.stream, kind());
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
    if (auto f = blocked(*doc, resp.status))
      return unexpected{*f};
    auto candidates = member(*doc, "candidates");
    if (candidates == nullptr || !candidates->is_array() || candidates->empty())
      return unexpected{malformed("response has no candidates", resp.status)};
    const auto& candidate = candidates->front();
    chat_response out;
    out.id = string_of(*doc, "responseId");
    out.model = string_of(*doc, "modelVersion");
    read_parts(candidate, out.text, out.tool_calls);
    out.finish_raw = string_of(candidate, "finishReason");
    out.finish = finish_of(out.finish_raw, !out.tool_calls.empty());
    out.usage = parse_usage(*doc);
    return out;
  }

  std::unique_ptr<stream_decoder> make_stream_decoder() const override {
    return std::make_unique<gemini_decoder>();
  }

  failure classify(const http_response& resp, wall_time now) const override {
    return classify_error(resp.status, resp.headers, resp.body, now);
  }
};

} // namespace

const adapter& gemini_adapter() {
  static const gemini instance;
  return instance;
}

} // namespace switchyard::wire
