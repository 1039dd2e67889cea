// OpenAI's chat completions and legacy completions: requests in, answers,
// chunks and errors out.
#include "api.hpp"
#include "text.hpp"

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace switchyard::gateway {

using json = nlohmann::json;

client_error bad_field(std::string field, std::string message) {
  client_error err;
  err.status = 400;
  err.message = std::move(message);
  err.param = std::move(field);
  return err;
}

namespace {

using parse_result = expected<parsed_call, client_error>;

/// Reads OpenAI message content (a string, null, or a list of parts).
std::optional<client_error> read_content(const json& content,
                                         const std::string& path, message& m) {
  if (content.is_null())
    return std::nullopt;
  if (content.is_string()) {
    m.text = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array())
    return bad_field(path, path + " must be a string or an array of parts");
  for (const auto& part : content) {
    if (!part.is_object() || !part.contains("type")
        || !part["type"].is_string())
      return bad_field(path, path + " parts must be objects with a type");
    content_part p;
    p.type = part["type"].get<std::string>();
    if (p.type == "text") {
      auto t = part.find("text");
      if (t == part.end() || !t->is_string())
        return bad_field(path, path + " text part without text");
      p.text = t->get<std::string>();
    } else {
      p.raw = part;
    }
    m.parts.push_back(std::move(p));
  }
  return std::nullopt;
}

std::optional<client_error> read_messages(const json& msgs, chat_request& req) {
  if (!msgs.is_array() || msgs.empty())
    return bad_field("messages", "messages must be a non-empty array");
  req.messages.reserve(msgs.size());
  for (size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    auto path = "messages[" + std::to_string(i) + "]";
    if (!m.is_object())
      return bad_field(path, path + " must be an object");
    message out;
    auto r = m.find("role");
    if (r == m.end() || !r->is_string())
      return bad_field(path + ".role", path + ".role is required");
    auto role = parse_role(r->get_ref<const std::string&>());
    if (!role)
      return bad_field(path + ".role",
                       "unknown role \"" + r->get<std::string>() + '"');
    out.from = *role;
    for (auto it = m.begin(); it != m.end(); ++it) {
      const auto& key = it.key();
      const auto& v = it.value();
      if (key == "role")
        continue;
      if (key == "content") {
        if (auto err = read_content(v, path + ".content", out))
          return err;
      } else if (key == "name" && v.is_string()) {
        out.name = v.get<std::string>();
      } else if (key == "tool_call_id" && v.is_string()) {
        out.tool_call_id = v.get<std::string>();
      } else if (key == "tool_calls" && v.is_array()) {
        for (const auto& tc : v) {
          auto fn = tc.find("function");
          if (!tc.is_object() || fn == tc.end() || !fn->is_object())
            return bad_field(path + ".tool_calls",
                             path + ".tool_calls entries need a function");
          tool_call call;
          call.id = tc.value("id", "");
          call.name = fn->value("name", "");
          call.arguments = fn->value("arguments", "");
          out.tool_calls.push_back(std::move(call));
        }
      } else if (key == "refusal" || (key == "tool_calls" && v.is_null())) {
        // Echoed assistant fields with nothing for a provider to use.
      } else {
        return bad_field(path + "." + key,
                         "unsupported field " + path + "." + key);
      }
    }
    req.messages.push_back(std::move(out));
  }
  return std::nullopt;
}

/// Fields both OpenAI endpoints read the same way; true when `key` was one.
/// Like OpenAI, a null optional field counts as not given.
bool common_field(const std::string& key, const json& v, parsed_call& call,
                  std::optional<client_error>& err) {
  auto& req = call.req;
  auto number = [&](std::optional<double>& out, int lo, int hi) {
    if (v.is_null())
      return;
    if (!v.is_number())
      err = bad_field(key, key + " must be a number");
    else if (auto x = v.get<double>(); x < lo || x > hi)
      err = bad_field(key, key + " must be between " + std::to_string(lo)
                               + " and " + std::to_string(hi));
    else
      out = x;
  };
  if (key == "model") {
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
      err = bad_field("model", "model must be a non-empty string");
    else
      call.route = v.get<std::string>();
  } else if (key == "temperature") {
    number(req.temperature, 0, 2);
  } else if (key == "top_p") {
    number(req.top_p, 0, 1);
  } else if (key == "presence_penalty") {
    number(req.presence_penalty, -2, 2);
  } else if (key == "frequency_penalty") {
    number(req.frequency_penalty, -2, 2);
  } else if (key == "max_tokens" || key == "max_completion_tokens") {
    if (v.is_null())
      return true;
    if (!v.is_number_integer() || v.get<int64_t>() < 1)
      err = bad_field(key, key + " must be a positive integer");
    else
      req.max_tokens = v.get<int64_t>();
  } else if (key == "stop") {
    if (v.is_string()) {
      req.stop.push_back(v.get<std::string>());
    } else if (v.is_array()) {
      for (const auto& s : v) {
        if (!s.is_string()) {
          err = bad_field("stop", "stop must be a string or strings");
          return true;
        }
        req.stop.push_back(s.get<std::string>());
      }
    } else if (!v.is_null()) {
      err = bad_field("stop", "stop must be a string or strings");
    }
  } else if (key == "stream") {
    if (!v.is_boolean() && !v.is_null())
      err = bad_field("stream", "stream must be a boolean");
    else if (v.is_boolean())
      call.stream = v.get<bool>();
  } else if (key == "stream_options") {
    if (v.is_null())
      return true;
    if (!v.is_object()) {
      err = bad_field("stream_options", "stream_options must be an object");
      return true;
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it.key() == "include_usage" && it.value().is_boolean())
        call.include_usage = it.value().get<bool>();
      else if (!(it.key() == "include_usage" && it.value().is_null()))
        err = bad_field("stream_options." + it.key(),
                        "unsupported field stream_options." + it.key());
    }
  } else if (key == "user") {
    if (v.is_string())
      req.user = v.get<std::string>();
    else if (!v.is_null())
      err = bad_field("user", "user must be a string");
  } else if (key == "seed") {
    if (v.is_number_integer())
      req.seed = v.get<int64_t>();
    else if (!v.is_null())
      err = bad_field("seed", "seed must be an integer");
  } else if (key == "n") {
    if (!v.is_null() && (!v.is_number_integer() || v.get<int64_t>() != 1))
      err = bad_field("n", "n must be 1: the gateway returns one choice");
  } else {
    return false;
  }
  return true;
}

/// Chat fields the gateway takes only at their OpenAI default (which is
/// what every provider does anyway); any other value is a 400.
const std::map<std::string, json, std::less<>> default_only{
    {"logprobs", false},
    {"top_logprobs", 0},
    {"store", false},
};

} // namespace

expected<parsed_call, client_error> parse_openai_chat(std::string_view body) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded())
    return fail("", "the request body is not valid JSON");
  if (!doc.is_object())
    return fail("", "the request body must be a JSON object");
  parsed_call call;
  std::optional<client_error> err;
  for (auto it = doc.begin(); it != doc.end() && !err; ++it) {
    const auto& key = it.key();
    auto& v = it.value();
    if (common_field(key, v, call, err))
      continue;
    if (key == "messages") {
      err = read_messages(v, call.req);
    } else if (key == "tools") {
      if (!v.is_array() && !v.is_null())
        err = bad_field("tools", "tools must be an array");
      else if (!v.is_null() && !v.empty())
        call.req.tools = std::move(v);
    } else if (key == "tool_choice") {
      call.req.tool_choice = std::move(v);
    } else if (key == "parallel_tool_calls") {
      if (v.is_boolean())
        call.req.parallel_tool_calls = v.get<bool>();
      else if (!v.is_null())
        err = bad_field(key, "parallel_tool_calls must be a boolean");
    } else if (key == "response_format") {
      if (!v.is_object() && !v.is_null())
        err = bad_field("response_format", "response_format must be an object");
      else
        call.req.response_format = std::move(v);
    } else if (auto def = default_only.find(key); def != default_only.end()) {
      if (!v.is_null() && v != def->second)
        err = bad_field(key, "unsupported field: " + key + " (only "
                                 + def->second.dump() + " or null)");
    } else {
      err = bad_field(key, "unsupported field: " + key
                               + " (the gateway does not forward it)");
    }
  }
  if (err)
    return unexpected<client_error>{std::move(*err)};
  if (call.route.empty())
    return fail("model", "model is required (it names a route)");
  if (call.req.messages.empty())
    return fail("messages", "messages is required");
  return call;
}

expected<parsed_call, client_error>
parse_openai_completions(std::string_view body) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded())
    return fail("", "the request body is not valid JSON");
  if (!doc.is_object())
    return fail("", "the request body must be a JSON object");
  parsed_call call;
  std::optional<client_error> err;
  bool have_prompt = false;
  for (auto it = doc.begin(); it != doc.end() && !err; ++it) {
    const auto& key = it.key();
    const auto& v = it.value();
    if (common_field(key, v, call, err))
      continue;
    if (key == "prompt") {
      const json* p = &v;
      if (v.is_array() && v.size() == 1)
        p = &v[0];
      if (!p->is_string()) {
        err = bad_field("prompt", "prompt must be a string (one prompt)");
      } else {
        message m;
        m.from = role::user;
        m.text = p->get<std::string>();
        call.req.messages.push_back(std::move(m));
        have_prompt = true;
      }
    } else if (key == "echo" || key == "logprobs" || key == "suffix"
               || key == "best_of") {
      bool harmless = v.is_null() || v == false || (key == "best_of" && v == 1);
      if (!harmless)
        err = bad_field(key, "unsupported field: " + key);
    } else {
      err = bad_field(key, "unsupported field: " + key
                               + " (the gateway does not forward it)");
    }
  }
  if (err)
    return unexpected<client_error>{std::move(*err)};
  if (call.route.empty())
    return fail("model", "model is required (it names a route)");
  if (!have_prompt)
    return fail("prompt", "prompt is required");
  return call;
}

namespace {

void append_usage(std::string& out, const usage& u) {
  out += "{\"prompt_tokens\":";
  append_int(out, u.prompt_tokens);
  out += ",\"completion_tokens\":";
  append_int(out, u.completion_tokens);
  out += ",\"total_tokens\":";
  append_int(out, u.total_tokens != 0 ? u.total_tokens
                                      : u.prompt_tokens + u.completion_tokens);
  out += '}';
}

std::string_view finish_name(finish_reason f) {
  switch (f) {
    case finish_reason::length:
      return "length";
    case finish_reason::tool_calls:
      return "tool_calls";
    case finish_reason::content_filter:
      return "content_filter";
    default:
      return "stop";
  }
}

/// The response id: the provider's when it looks like OpenAI's, else ours.
std::string response_id(std::string_view prefix, const std::string& given) {
  if (given.size() > prefix.size()
      && given.compare(0, prefix.size(), prefix) == 0)
    return given;
  return make_id(prefix);
}

void append_head(std::string& out, std::string_view id, std::string_view object,
                 int64_t created, std::string_view model) {
  out += "{\"id\":";
  append_json_string(out, id);
  out += ",\"object\":\"";
  out += object;
  out += "\",\"created\":";
  append_int(out, created);
  out += ",\"model\":";
  append_json_string(out, model);
}

void append_tool_calls(std::string& out, const std::vector<tool_call>& calls) {
  out += "\"tool_calls\":[";
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i > 0)
      out += ',';
    out += "{\"id\":";
    append_json_string(out, calls[i].id);
    out += ",\"type\":\"function\",\"function\":{\"name\":";
    append_json_string(out, calls[i].name);
    out += ",\"arguments\":";
    append_json_string(out, calls[i].arguments);
    out += "}}";
  }
  out += ']';
}

} // namespace

std::string detail::render_openai_chat(const chat_response& res) {
  std::string out;
  out.reserve(256 + res.text.size());
  append_head(out, response_id("chatcmpl-", res.id), "chat.completion",
              unix_now(), res.model);
  out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
         "\"content\":";
  if (res.text.empty() && !res.tool_calls.empty())
    out += "null";
  else
    append_json_string(out, res.text);
  out += ",\"refusal\":null";
  if (!res.tool_calls.empty()) {
    out += ',';
    append_tool_calls(out, res.tool_calls);
  }
  out += "},\"logprobs\":null,\"finish_reason\":\"";
  out += finish_name(res.finish);
  out += "\"}],\"usage\":";
  append_usage(out, res.usage);
  out += '}';
  return out;
}

std::string detail::render_openai_completion(const chat_response& res) {
  std::string out;
  out.reserve(256 + res.text.size());
  append_head(out, response_id("cmpl-", res.id), "text_completion", unix_now(),
              res.model);
  out += ",\"choices\":[{\"text\":";
  append_json_string(out, res.text);
  out += ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"";
  out += finish_name(res.finish);
  out += "\"}],\"usage\":";
  append_usage(out, res.usage);
  out += '}';
  return out;
}

std::string detail::render_openai_error(const client_error& err) {
  std::string out = "{\"error\":{\"message\":";
  append_json_string(out, err.message);
  out += ",\"type\":\"";
  switch (err.status) {
    case 400:
    case 404:
    case 405:
    case 413:
    case 431:
      out += "invalid_request_error";
      break;
    case 401:
      out += "authentication_error";
      break;
    case 403:
      out += "permission_error";
      break;
    case 429:
      out += "rate_limit_error";
      break;
    default:
      out += "server_error";
  }
  out += "\",\"param\":";
  if (err.param.empty())
    out += "null";
  else
    append_json_string(out, err.param);
  out += ",\"code\":";
  if (err.code.empty())
    out += "null";
  else
    append_json_string(out, err.code);
  out += "}}";
  return out;
}

namespace {

/// OpenAI chat chunks (and legacy completion chunks).
class openai_encoder final : public sse_encoder {
public:
  openai_encoder(bool legacy, bool include_usage)
      : legacy_(legacy), include_usage_(include_usage) {
    // nop
  }

  void open(std::string& out, const stream_start& start) override {
    if (id_.empty()) {
      id_ = response_id(legacy_ ? "cmpl-" : "chatcmpl-", start.id);
      created_ = unix_now();
    }
    model_ = start.model;
    if (legacy_)
      return;
    chunk_head(out);
    out += "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
           "\"logprobs\":null,\"finish_reason\":null}]}\n\n";
  }

  void text(std::string& out, std::string_view text) override {
    chunk_head(out);
    if (legacy_) {
      append_json_string(out, text);
      out += ",\"logprobs\":null,\"finish_reason\":null}]}\n\n";
      return;
    }
    out += "{\"content\":";
    append_json_string(out, text);
    out += "},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
  }

  void tool(std::string& out, const tool_call_delta& d) override {
    if (legacy_)
      return;
    chunk_head(out);
    out += "{\"tool_calls\":[{\"index\":";
    append_int(out, d.index);
    if (!d.id.empty()) {
      out += ",\"id\":";
      append_json_string(out, d.id);
      out += ",\"type\":\"function\"";
    }
    out += ",\"function\":{";
    if (!d.name.empty()) {
      out += "\"name\":";
      append_json_string(out, d.name);
      out += ',';
    }
    out += "\"arguments\":";
    append_json_string(out, d.arguments);
    out += "}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
  }

  void close(std::string& out, const stream_end& end) override {
    chunk_head(out);
    if (legacy_)
      out += "\"\"";
    else
      out += "{}";
    out += ",\"logprobs\":null,\"finish_reason\":\"";
    out += finish_name(end.finish);
    out += "\"}]}\n\n";
    if (include_usage_) {
      out += "data: ";
      append_head(out, id_, object(), created_, model_);
      out += ",\"choices\":[],\"usage\":";
      append_usage(out, end.usage.value_or(usage{}));
      out += "}\n\n";
    }
    out += "data: [DONE]\n\n";
  }

  void fail(std::string& out, const client_error& err) override {
    out += "data: ";
    out += detail::render_openai_error(err);
    out += "\n\n";
  }

private:
  std::string_view object() const {
    return legacy_ ? "text_completion" : "chat.completion.chunk";
  }

  // Everything of a chunk up to its delta (chat) or text (legacy) value.
  void chunk_head(std::string& out) {
    out += "data: ";
    append_head(out, id_, object(), created_, model_);
    if (legacy_)
      out += ",\"choices\":[{\"index\":0,\"text\":";
    else
      out += ",\"choices\":[{\"index\":0,\"delta\":";
  }

  bool legacy_;
  bool include_usage_;
  std::string id_;
  int64_t created_ = 0;
  std::string model_;
};

} // namespace

std::unique_ptr<sse_encoder> detail::make_openai_encoder(bool legacy,
                                                         bool include_usage) {
  return std::make_unique<openai_encoder>(legacy, include_usage);
}

} // namespace switchyard::gateway
