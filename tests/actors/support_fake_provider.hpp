#pragma once

// A scripted stand-in for a PROVIDER actor, for router tests: it records the
// deployment calls and cancels it receives and answers only when told to, so
// a test decides every deployment result (verdict included) itself.

#include "switchyard/actors.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

namespace switchyard::test {

/// What a fake provider saw, and how it answers a cancel.
struct fake_provider_log {
  std::string deployment;
  std::vector<deployment_call> calls;
  std::vector<std::pair<uint64_t, engine_code>> cancels;
  /// Answer a cancel at once (as the provider contract says) with
  /// `cancel_attempts` plus one attempt recorded as cut.
  bool answer_cancel = true;
  std::vector<attempt_record> cancel_attempts;

  /// The last call received with id `id`, if any.
  const deployment_call* find(uint64_t id) const {
    for (auto i = calls.rbegin(); i != calls.rend(); ++i)
      if (i->call_id == id)
        return &*i;
    return nullptr;
  }
};

/// An attempt record on `deployment` with `status` and `cls`.
inline attempt_record make_attempt(const std::string& deployment, int status,
                                   error_class cls, std::string reason = {}) {
  attempt_record rec;
  rec.deployment = deployment;
  rec.status = status;
  rec.cls = cls;
  rec.reason = std::move(reason);
  return rec;
}

struct fake_provider_state {
  static inline const char* name = "fake_provider";
};

/// The fake PROVIDER behaviour.
inline provider_actor::behavior_type
fake_provider(provider_actor::stateful_pointer<fake_provider_state> self,
              std::shared_ptr<fake_provider_log> log) {
  return {
      [log](call_atom, deployment_call& c) { log->calls.push_back(c); },
      [self, log](cancel_atom, uint64_t id, engine_code why) {
        log->cancels.emplace_back(id, why);
        auto* c = log->find(id);
        if (!log->answer_cancel || c == nullptr)
          return;
        deployment_result r;
        r.failure = make_failure(why, "cut");
        r.attempts = log->cancel_attempts;
        r.attempts.push_back(
            make_attempt(log->deployment, 0, class_of(why),
                         "cut: " + std::string{to_string(why)}));
        self->send(c->reply_to, result_atom::value, id, c->dispatch,
                   std::move(r));
      },
      [](control_atom, deployment_command) { return true; },
      [](status_atom) { return deployment_status{}; },
      [](transfer_atom, uint64_t, transfer_result&) {},
      [](transfer_atom, uint64_t) {},
      [](transfer_atom, uint64_t, stream_verdict&) {},
      [](token_atom, uint64_t) {},
      [](timeout_atom, int64_t) {},
      [](probe_atom, uint64_t) {},
      [](retry_atom, uint64_t, uint64_t) {},
      [](shared_atom) {},
      [](crash_atom) {},
  };
}

/// A failed deployment result: `attempts`, the last failure `f`, and the
/// deployment's verdict `action` within `scope`.
inline deployment_result
failed_result(failure f, std::vector<attempt_record> attempts,
              retry_action action, fallback_scope scope = fallback_scope::any) {
  deployment_result r;
  r.failure = std::move(f);
  r.attempts = std::move(attempts);
  r.verdict.action = action;
  r.verdict.scope = scope;
  return r;
}

/// A failure of class `cls` with HTTP `status`.
inline failure upstream_failure(error_class cls, int status) {
  failure f;
  f.cls = cls;
  f.status = status;
  f.message = "upstream said no";
  return f;
}

} // namespace switchyard::test
