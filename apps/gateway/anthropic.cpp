// Anthropic's Messages API: requests in, messages, events and errors out.
#include "api.hpp"
#include "text.hpp"

#include <nlohmann/json.hpp>

namespace switchyard::gateway {

using json = nlohmann::json;

namespace {

/// The text of a `tool_result` content (a string or text blocks).
std::string result_text(const json& content) {
  if (content.is_string())
    return content.get<std::string>();
  std::string out;
  if (content.is_array())
    for (const auto& b : content)
      if (b.is_object() && b.value("type", "") == "text")
        out += b.value("text", "");
  return out;
}

/// Reads one Anthropic message into one or more engine messages (tool
/// results become `tool` messages, as OpenAI's shape has them).
std::optional<client_error> read_message(const json& m, const std::string& path,
                                         std::vector<message>& out) {
  if (!m.is_object())
    return bad_field(path, path + " must be an object");
  auto r = m.find("role");
  if (r == m.end() || !r->is_string() || (*r != "user" && *r != "assistant"))
    return bad_field(path + ".role", path + ".role must be user or assistant");
  for (auto it = m.begin(); it != m.end(); ++it)
    if (it.key() != "role" && it.key() != "content")
      return bad_field(path + "." + it.key(),
                       "unsupported field " + path + "." + it.key());
  message msg;
  msg.from = *r == "user" ? role::user : role::assistant;
  auto c = m.find("content");
  if (c == m.end())
    return bad_field(path + ".content", path + ".content is required");
  if (c->is_string()) {
    msg.text = c->get<std::string>();
    out.push_back(std::move(msg));
    return std::nullopt;
  }
  if (!c->is_array())
    return bad_field(path + ".content",
                     path + ".content must be a string or an array of blocks");
  std::vector<message> results;
  for (const auto& b : *c) {
    auto type = b.is_object() ? b.value("type", "") : std::string{};
    if (type == "text") {
      content_part p;
      p.text = b.value("text", "");
      msg.parts.push_back(std::move(p));
    } else if (type == "tool_use") {
      tool_call call;
      call.id = b.value("id", "");
      call.name = b.value("name", "");
      call.arguments = b.contains("input") ? b["input"].dump() : "{}";
      msg.tool_calls.push_back(std::move(call));
    } else if (type == "tool_result") {
      message res;
      res.from = role::tool;
      res.tool_call_id = b.value("tool_use_id", "");
      if (b.contains("content"))
        res.text = result_text(b["content"]);
      results.push_back(std::move(res));
    } else if (type == "image") {
      // OpenAI's shape is the lingua franca: a data URL image part.
      const auto& src = b.contains("source") ? b["source"] : json{};
      if (src.value("type", "") != "base64")
        return bad_field(path + ".content",
                         "only base64 image sources are supported");
      content_part p;
      p.type = "image_url";
      p.raw = {{"type", "image_url"},
               {"image_url",
                {{"url", "data:" + src.value("media_type", "image/png")
                             + ";base64," + src.value("data", "")}}}};
      msg.parts.push_back(std::move(p));
    } else {
      return bad_field(path + ".content",
                       "unsupported content block type \"" + type + '"');
    }
  }
  // Tool results answer the previous turn; they go before any text.
  for (auto& r : results)
    out.push_back(std::move(r));
  if (msg.parts.size() == 1 && msg.parts[0].type == "text") {
    msg.text = std::move(msg.parts[0].text);
    msg.parts.clear();
  }
  if (!msg.parts.empty() || !msg.tool_calls.empty() || results.empty())
    out.push_back(std::move(msg));
  return std::nullopt;
}

std::optional<client_error> read_tools(const json& tools, chat_request& req) {
  if (!tools.is_array())
    return bad_field("tools", "tools must be an array");
  req.tools = json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const auto& t = tools[i];
    if (!t.is_object() || !t.contains("name"))
      return bad_field("tools[" + std::to_string(i) + "]",
                       "a tool needs a name");
    json fn = {{"name", t["name"]}};
    if (t.contains("description"))
      fn["description"] = t["description"];
    fn["parameters"] = t.value("input_schema", json::object());
    req.tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
  }
  return std::nullopt;
}

std::optional<client_error> read_tool_choice(const json& tc,
                                             chat_request& req) {
  auto type = tc.is_object() ? tc.value("type", "") : std::string{};
  if (type == "auto")
    req.tool_choice = "auto";
  else if (type == "any")
    req.tool_choice = "required";
  else if (type == "none")
    req.tool_choice = "none";
  else if (type == "tool")
    req.tool_choice = {{"type", "function"},
                       {"function", {{"name", tc.value("name", "")}}}};
  else
    return bad_field("tool_choice", "unsupported tool_choice");
  if (auto d = tc.find("disable_parallel_tool_use"); d != tc.end()) {
    if (!d->is_boolean())
      return bad_field("tool_choice",
                       "tool_choice.disable_parallel_tool_use: must be a "
                       "boolean");
    req.parallel_tool_calls = !d->get<bool>();
  }
  return std::nullopt;
}

} // namespace

expected<parsed_call, client_error> parse_anthropic(std::string_view body) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded())
    return fail("", "the request body is not valid JSON");
  if (!doc.is_object())
    return fail("", "the request body must be a JSON object");
  parsed_call call;
  auto& req = call.req;
  std::optional<client_error> err;
  bool have_max_tokens = false;
  for (auto it = doc.begin(); it != doc.end() && !err; ++it) {
    const auto& key = it.key();
    const auto& v = it.value();
    if (key == "model") {
      if (!v.is_string() || v.get_ref<const std::string&>().empty())
        err = bad_field("model", "model: must be a non-empty string");
      else
        call.route = v.get<std::string>();
    } else if (key == "max_tokens") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1)
        err = bad_field("max_tokens", "max_tokens: must be a positive integer");
      else
        req.max_tokens = v.get<int64_t>();
      have_max_tokens = true;
    } else if (key == "messages") {
      if (!v.is_array() || v.empty()) {
        err = bad_field("messages", "messages: must be a non-empty array");
        continue;
      }
      for (size_t i = 0; i < v.size() && !err; ++i)
        err = read_message(v[i], "messages." + std::to_string(i), req.messages);
    } else if (key == "system") {
      message sys;
      sys.from = role::system;
      if (v.is_string())
        sys.text = v.get<std::string>();
      else if (v.is_array())
        sys.text = result_text(v);
      else
        err = bad_field("system", "system: must be a string or text blocks");
      req.messages.insert(req.messages.begin(), std::move(sys));
    } else if (key == "stop_sequences") {
      if (!v.is_array())
        err = bad_field(key, "stop_sequences: must be an array of strings");
      else
        for (const auto& s : v)
          if (s.is_string())
            req.stop.push_back(s.get<std::string>());
          else
            err = bad_field(key, "stop_sequences: must be strings");
    } else if (key == "temperature" || key == "top_p") {
      if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1)
        err = bad_field(key, key + ": must be a number from 0 to 1");
      else
        (key == "temperature" ? req.temperature : req.top_p) = v.get<double>();
    } else if (key == "top_k") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1)
        err = bad_field(key, "top_k: must be a positive integer");
      else
        req.top_k = v.get<int64_t>();
    } else if (key == "stream") {
      if (!v.is_boolean())
        err = bad_field(key, "stream: must be a boolean");
      else
        call.stream = v.get<bool>();
    } else if (key == "tools") {
      err = read_tools(v, req);
    } else if (key == "tool_choice") {
      err = read_tool_choice(v, req);
    } else if (key == "metadata") {
      if (v.is_object() && v.contains("user_id") && v["user_id"].is_string())
        req.user = v["user_id"].get<std::string>();
    } else {
      err = bad_field(key, key
                               + ": unsupported field (the gateway does not "
                                 "forward it)");
    }
  }
  if (err)
    return unexpected<client_error>{std::move(*err)};
  if (call.route.empty())
    return fail("model", "model: field required (it names a route)");
  if (!have_max_tokens)
    return fail("max_tokens", "max_tokens: field required");
  if (req.messages.empty() || req.messages.back().from == role::system)
    return fail("messages", "messages: field required");
  return call;
}

namespace {

std::string_view stop_reason(finish_reason f) {
  switch (f) {
    case finish_reason::length:
      return "max_tokens";
    case finish_reason::tool_calls:
      return "tool_use";
    default:
      return "end_turn";
  }
}

/// Appends a tool call's arguments as a JSON object (Anthropic's `input`).
void append_input(std::string& out, const std::string& arguments) {
  if (!arguments.empty() && json::accept(arguments))
    out += arguments;
  else
    out += "{}";
}

std::string message_id(const std::string& given) {
  if (given.rfind("msg_", 0) == 0)
    return given;
  return make_id("msg_");
}

} // namespace

std::string detail::render_anthropic(const chat_response& res) {
  std::string out;
  out.reserve(256 + res.text.size());
  out += "{\"id\":";
  append_json_string(out, message_id(res.id));
  out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
  append_json_string(out, res.model);
  out += ",\"content\":[";
  bool first = true;
  if (!res.text.empty() || res.tool_calls.empty()) {
    out += "{\"type\":\"text\",\"text\":";
    append_json_string(out, res.text);
    out += '}';
    first = false;
  }
  for (const auto& tc : res.tool_calls) {
    if (!first)
      out += ',';
    first = false;
    out += "{\"type\":\"tool_use\",\"id\":";
    append_json_string(out, tc.id);
    out += ",\"name\":";
    append_json_string(out, tc.name);
    out += ",\"input\":";
    append_input(out, tc.arguments);
    out += '}';
  }
  out += "],\"stop_reason\":\"";
  out += stop_reason(res.finish);
  out += "\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":";
  append_int(out, res.usage.prompt_tokens);
  out += ",\"output_tokens\":";
  append_int(out, res.usage.completion_tokens);
  out += "}}";
  return out;
}

std::string detail::render_anthropic_error(const client_error& err) {
  std::string out = "{\"type\":\"error\",\"error\":{\"type\":\"";
  switch (err.status) {
    case 400:
    case 405:
    case 431:
      out += "invalid_request_error";
      break;
    case 401:
      out += "authentication_error";
      break;
    case 403:
      out += "permission_error";
      break;
    case 404:
      out += "not_found_error";
      break;
    case 413:
      out += "request_too_large";
      break;
    case 429:
      out += "rate_limit_error";
      break;
    case 503:
    case 529:
      out += "overloaded_error";
      break;
    default:
      out += "api_error";
  }
  out += "\",\"message\":";
  append_json_string(out, err.message);
  out += "}}";
  return out;
}

namespace {

/// Anthropic's event sequence: message_start, content_block_start, ping,
/// content_block_delta..., content_block_stop, message_delta, message_stop.
class anthropic_encoder final : public sse_encoder {
public:
  void open(std::string& out, const stream_start& start) override {
    if (opened_)
      return; // a restart: the message goes on in the blocks already open
    opened_ = true;
    out += "event: message_start\ndata: {\"type\":\"message_start\","
           "\"message\":{\"id\":";
    append_json_string(out, message_id(start.id));
    out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
    append_json_string(out, start.model);
    out += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
           "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n";
  }

  void text(std::string& out, std::string_view text) override {
    if (open_tool_ >= 0)
      stop_block(out);
    if (!text_open_) {
      start_block(out);
      out += "{\"type\":\"text\",\"text\":\"\"}}\n\n";
      text_open_ = true;
      if (!pinged_) {
        out += "event: ping\ndata: {\"type\":\"ping\"}\n\n";
        pinged_ = true;
      }
    }
    delta_head(out);
    out += "{\"type\":\"text_delta\",\"text\":";
    append_json_string(out, text);
    out += "}}\n\n";
  }

  void tool(std::string& out, const tool_call_delta& d) override {
    if (text_open_ || (open_tool_ >= 0 && open_tool_ != d.index))
      stop_block(out);
    if (open_tool_ != d.index) {
      start_block(out);
      out += "{\"type\":\"tool_use\",\"id\":";
      append_json_string(out, d.id);
      out += ",\"name\":";
      append_json_string(out, d.name);
      out += ",\"input\":{}}}\n\n";
      open_tool_ = d.index;
    }
    if (d.arguments.empty())
      return;
    delta_head(out);
    out += "{\"type\":\"input_json_delta\",\"partial_json\":";
    append_json_string(out, d.arguments);
    out += "}}\n\n";
  }

  void close(std::string& out, const stream_end& end) override {
    if (text_open_ || open_tool_ >= 0)
      stop_block(out);
    out += "event: message_delta\ndata: {\"type\":\"message_delta\","
           "\"delta\":{\"stop_reason\":\"";
    out += stop_reason(end.finish);
    out += "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":";
    append_int(out, end.usage ? end.usage->completion_tokens : 0);
    out += "}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  }

  void fail(std::string& out, const client_error& err) override {
    out += "event: error\ndata: ";
    out += detail::render_anthropic_error(err);
    out += "\n\n";
  }

private:
  void start_block(std::string& out) {
    out += "event: content_block_start\ndata: {\"type\":\"content_block_"
           "start\",\"index\":";
    append_int(out, index_);
    out += ",\"content_block\":";
  }

  void delta_head(std::string& out) {
    out += "event: content_block_delta\ndata: {\"type\":\"content_block_"
           "delta\",\"index\":";
    append_int(out, index_);
    out += ",\"delta\":";
  }

  void stop_block(std::string& out) {
    out += "event: content_block_stop\ndata: {\"type\":\"content_block_"
           "stop\",\"index\":";
    append_int(out, index_);
    out += "}\n\n";
    ++index_;
    text_open_ = false;
    open_tool_ = -1;
  }

  bool opened_ = false;
  bool pinged_ = false;
  bool text_open_ = false;
  int open_tool_ = -1;
  int64_t index_ = 0;
};

} // namespace

std::unique_ptr<sse_encoder> detail::make_anthropic_encoder() {
  return std::make_unique<anthropic_encoder>();
}

} // namespace switchyard::gateway
