#pragma once

// The OpenAI chat-completions request body, read into the engine's model.
// Kept apart from the runner, so that it is tested on its own.

#include "switchyard/expected.hpp"
#include "switchyard/model.hpp"

#include <string>

#include <nlohmann/json.hpp>

namespace switchyard::batch {

/// Reads an OpenAI chat-completions body into a `chat_request`. The body's
/// `model` is left out (the caller decides what it names: a route here).
/// Parameters the model has no field for travel in `extra` untouched. On
/// error, names the bad field as a path, e.g.
/// `messages[2].role: expected one of system, developer, user, assistant,
/// tool, got "bot"`.
expected<chat_request, std::string>
parse_openai_chat(const nlohmann::json& body);

} // namespace switchyard::batch
