#include "wire.hpp"

namespace switchyard {

const provider_defaults& defaults_of(provider_kind kind) noexcept {
  static constexpr provider_defaults openai{"https://api.openai.com", "", ""};
  static constexpr provider_defaults anthropic{"https://api.anthropic.com",
                                               "x-api-key", "2023-06-01"};
  static constexpr provider_defaults gemini{
      "https://generativelanguage.googleapis.com", "x-goog-api-key", ""};
  static constexpr provider_defaults azure{"", "api-key", "2024-10-21"};
  static constexpr provider_defaults compatible{"", "", ""};
  switch (kind) {
    case provider_kind::anthropic_messages:
      return anthropic;
    case provider_kind::gemini:
      return gemini;
    case provider_kind::azure_openai:
      return azure;
    case provider_kind::openai_compatible:
      return compatible;
    case provider_kind::openai_chat:
    case provider_kind::openai_completions:
      break;
  }
  return openai;
}

const adapter& adapter_for(provider_kind kind) {
  switch (kind) {
    case provider_kind::anthropic_messages:
      return wire::anthropic_adapter();
    case provider_kind::gemini:
      return wire::gemini_adapter();
    case provider_kind::azure_openai:
      return wire::azure_openai_adapter();
    case provider_kind::openai_compatible:
      return wire::openai_compatible_adapter();
    case provider_kind::openai_completions:
      return wire::openai_completions_adapter();
    case provider_kind::openai_chat:
      break;
  }
  return wire::openai_chat_adapter();
}

} // namespace switchyard
