#include "wire.hpp"

// The tool definitions, tool choice and tool-call arguments of a request,
// read once for the adapters that translate them (Anthropic, Gemini).

namespace switchyard::wire {

bool has_tools(const chat_request& req) {
  return !req.tools.is_null() && !(req.tools.is_array() && req.tools.empty());
}

expected<std::vector<function_tool>, failure>
function_tools(const json& tools, std::string_view who) {
  if (!tools.is_array())
    return unexpected{bad_request(std::string{who} + ": tools must be a list")};
  std::vector<function_tool> out;
  out.reserve(tools.size());
  for (const auto& t : tools) {
    auto fn = member(t, "function");
    if (string_of(t, "type") != "function" || fn == nullptr)
      return unexpected{bad_request(std::string{who}
                                    + ": only function tools are supported")};
    out.push_back(function_tool{string_of(*fn, "name"),
                                string_of(*fn, "description"),
                                member(*fn, "parameters")});
  }
  return out;
}

expected<tool_choice, failure> read_tool_choice(const json& choice,
                                                std::string_view who) {
  using mode = tool_choice::mode;
  if (choice.is_string()) {
    const auto& s = choice.get_ref<const std::string&>();
    if (s == "auto")
      return tool_choice{mode::automatic, {}};
    if (s == "required")
      return tool_choice{mode::required, {}};
    if (s == "none")
      return tool_choice{mode::none, {}};
  } else if (auto fn = member(choice, "function")) {
    return tool_choice{mode::function, string_of(*fn, "name")};
  }
  return unexpected{bad_request(std::string{who} + ": tool_choice "
                                + dump(choice) + " is not supported")};
}

expected<json, failure> tool_arguments(const tool_call& call,
                                       std::string_view who) {
  if (call.arguments.empty())
    return json::object();
  auto args = json::parse(call.arguments, nullptr, false);
  if (args.is_discarded() || !args.is_object())
    return unexpected{bad_request(std::string{who}
                                  + ": arguments of tool call '" + call.id
                                  + "' are not a JSON object")};
  return args;
}

} // namespace switchyard::wire
