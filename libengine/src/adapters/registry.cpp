#include "wire.hpp"

namespace switchyard {

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
