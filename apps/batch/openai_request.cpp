#include "openai_request.hpp"

#include <string_view>
#include <utility>

namespace switchyard::batch {

namespace {

using json = nlohmann::json;

/// A failed read: the path of the bad field and what is wrong with it.
struct bad_field {
  std::string text;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw bad_field{path + ": " + what};
}

std::string_view type_name(const json& x) {
  return x.type_name();
}

std::string expect_string(const json& x, const std::string& path) {
  if (!x.is_string())
    fail(path, "expected a string, got " + std::string{type_name(x)});
  return x.get<std::string>();
}

double expect_number(const json& x, const std::string& path, double lo,
                     double hi) {
  if (!x.is_number())
    fail(path, "expected a number, got " + std::string{type_name(x)});
  auto v = x.get<double>();
  if (v < lo || v > hi)
    fail(path, "expected a number in [" + json(lo).dump() + ", "
                   + json(hi).dump() + "], got " + x.dump());
  return v;
}

std::vector<content_part> read_parts(const json& arr, const std::string& path) {
  std::vector<content_part> parts;
  for (size_t i = 0; i < arr.size(); ++i) {
    auto p = path + "[" + std::to_string(i) + "]";
    const auto& x = arr[i];
    if (!x.is_object())
      fail(p, "expected an object, got " + std::string{type_name(x)});
    auto type = x.find("type");
    if (type == x.end())
      fail(p + ".type", "missing");
    content_part part;
    part.type = expect_string(*type, p + ".type");
    if (part.type == "text") {
      auto text = x.find("text");
      if (text == x.end())
        fail(p + ".text", "missing");
      part.text = expect_string(*text, p + ".text");
    } else {
      part.raw = x;
    }
    parts.push_back(std::move(part));
  }
  return parts;
}

std::vector<tool_call> read_tool_calls(const json& arr,
                                       const std::string& path) {
  if (!arr.is_array())
    fail(path, "expected an array, got " + std::string{type_name(arr)});
  std::vector<tool_call> calls;
  for (size_t i = 0; i < arr.size(); ++i) {
    auto p = path + "[" + std::to_string(i) + "]";
    const auto& x = arr[i];
    if (!x.is_object())
      fail(p, "expected an object, got " + std::string{type_name(x)});
    tool_call call;
    if (auto id = x.find("id"); id != x.end())
      call.id = expect_string(*id, p + ".id");
    auto fn = x.find("function");
    if (fn == x.end() || !fn->is_object())
      fail(p + ".function", "expected an object");
    auto name = fn->find("name");
    if (name == fn->end())
      fail(p + ".function.name", "missing");
    call.name = expect_string(*name, p + ".function.name");
    if (auto args = fn->find("arguments"); args != fn->end())
      call.arguments
          = args->is_string() ? args->get<std::string>() : args->dump();
    calls.push_back(std::move(call));
  }
  return calls;
}

message read_message(const json& x, const std::string& path) {
  if (!x.is_object())
    fail(path, "expected an object, got " + std::string{type_name(x)});
  message msg;
  auto r = x.find("role");
  if (r == x.end())
    fail(path + ".role", "missing");
  auto name = expect_string(*r, path + ".role");
  auto parsed = parse_role(name);
  if (!parsed)
    fail(path + ".role",
         "expected one of system, developer, user, assistant, tool, got \""
             + name + "\"");
  msg.from = *parsed;
  auto content = x.find("content");
  if (content == x.end() || content->is_null()) {
    // Only an assistant message that calls tools may come without content.
    if (msg.from != role::assistant || !x.contains("tool_calls"))
      fail(path + ".content", "missing");
  } else if (content->is_string()) {
    msg.text = content->get<std::string>();
  } else if (content->is_array()) {
    msg.parts = read_parts(*content, path + ".content");
  } else {
    fail(path + ".content", "expected a string or an array of parts, got "
                                + std::string{type_name(*content)});
  }
  if (auto n = x.find("name"); n != x.end())
    msg.name = expect_string(*n, path + ".name");
  if (auto id = x.find("tool_call_id"); id != x.end())
    msg.tool_call_id = expect_string(*id, path + ".tool_call_id");
  if (msg.from == role::tool && msg.tool_call_id.empty())
    fail(path + ".tool_call_id", "missing (a tool message answers a call)");
  if (auto calls = x.find("tool_calls"); calls != x.end())
    msg.tool_calls = read_tool_calls(*calls, path + ".tool_calls");
  return msg;
}

void read_body(const json& body, chat_request& req) {
  if (!body.is_object())
    fail("body", "expected an object, got " + std::string{type_name(body)});
  bool has_messages = false;
  for (const auto& [key, val] : body.items()) {
    if (key == "messages") {
      if (!val.is_array())
        fail("messages",
             "expected an array, got " + std::string{type_name(val)});
      if (val.empty())
        fail("messages", "empty (a chat needs at least one message)");
      for (size_t i = 0; i < val.size(); ++i)
        req.messages.push_back(
            read_message(val[i], "messages[" + std::to_string(i) + "]"));
      has_messages = true;
    } else if (key == "model") {
      expect_string(val, "model");
    } else if (key == "temperature") {
      req.temperature = expect_number(val, key, 0, 2);
    } else if (key == "top_p") {
      req.top_p = expect_number(val, key, 0, 1);
    } else if (key == "presence_penalty" || key == "frequency_penalty") {
      (key == "presence_penalty" ? req.presence_penalty : req.frequency_penalty)
          = expect_number(val, key, -2, 2);
    } else if (key == "seed") {
      if (!val.is_number_integer())
        fail(key, "expected an integer, got " + val.dump());
      req.seed = val.get<int64_t>();
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      if (!val.is_number_integer() || val.get<int64_t>() < 1)
        fail(key, "expected a positive integer, got " + val.dump());
      req.max_tokens = val.get<int64_t>();
    } else if (key == "stop") {
      if (val.is_string()) {
        req.stop.push_back(val.get<std::string>());
      } else if (val.is_array()) {
        for (size_t i = 0; i < val.size(); ++i)
          req.stop.push_back(
              expect_string(val[i], "stop[" + std::to_string(i) + "]"));
      } else if (!val.is_null()) {
        fail("stop", "expected a string or an array of strings, got "
                         + std::string{type_name(val)});
      }
    } else if (key == "stream") {
      if (!val.is_boolean())
        fail("stream",
             "expected a boolean, got " + std::string{type_name(val)});
      req.stream = val.get<bool>();
    } else if (key == "stream_options") {
      // Meaningful only with `stream`, which the caller decides on.
    } else if (key == "tools") {
      if (!val.is_array())
        fail("tools", "expected an array, got " + std::string{type_name(val)});
      req.tools = val;
    } else if (key == "tool_choice") {
      req.tool_choice = val;
    } else if (key == "parallel_tool_calls") {
      if (!val.is_boolean())
        fail(key, "expected a boolean, got " + std::string{type_name(val)});
      req.parallel_tool_calls = val.get<bool>();
    } else if (key == "response_format") {
      if (!val.is_object())
        fail("response_format",
             "expected an object, got " + std::string{type_name(val)});
      req.response_format = val;
    } else if (key == "user") {
      req.user = expect_string(val, "user");
    } else if (key == "metadata") {
      if (!val.is_object())
        fail("metadata",
             "expected an object, got " + std::string{type_name(val)});
      for (const auto& [k, v] : val.items())
        req.metadata[k] = expect_string(v, "metadata." + k);
    } else if (key == "n") {
      if (!val.is_number_integer() || val.get<int64_t>() != 1)
        fail("n", "only 1 choice per request is supported, got " + val.dump());
    } else {
      req.extra[key] = val;
    }
  }
  if (!has_messages)
    fail("messages", "missing");
}

} // namespace

expected<chat_request, std::string> parse_openai_chat(const json& body) {
  chat_request req;
  try {
    read_body(body, req);
  } catch (bad_field& err) {
    return unexpected{std::move(err.text)};
  }
  return req;
}

} // namespace switchyard::batch
