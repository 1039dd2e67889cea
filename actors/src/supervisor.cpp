#include "supervisor.hpp"

#include "provider_actor.hpp"

#include <caf/all.hpp>

namespace switchyard {

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

provider_actor start_child(self_ptr self, size_t index) {
  auto hdl = self->spawn<caf::monitored>(provider, self->state.core, index);
  self->state.core->directory.set(index, hdl);
  return hdl;
}

void on_down(self_ptr self, caf::down_msg& dm) {
  auto& st = self->state;
  if (st.stopping)
    return;
  for (size_t i = 0; i < st.children.size(); ++i) {
    if (st.children[i].address() != dm.source)
      continue;
    auto now = self->clock().now();
    auto& times = st.restarts[i];
    while (!times.empty() && now - times.front() > restart_window)
      times.pop_front();
    times.push_back(now);
    auto& rt = *st.core->deployments[i];
    rt.record_restart();
    provider_restarted ev;
    ev.deployment = rt.config.name;
    ev.reason = self->system().render(dm.reason);
    ev.restarts_in_window = static_cast<uint32_t>(times.size());
    if (times.size() > max_restarts) {
      auto f = make_failure(
          engine_code::restart_limit,
          "provider actor restarted more than " + std::to_string(max_restarts)
              + " times in "
              + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                   restart_window)
                                   .count())
              + " s");
      rt.mark_down(now + restart_window, std::move(f));
      ev.marked_down = true;
    }
    st.core->emit(std::move(ev));
    st.children[i] = start_child(self, i);
    return;
  }
}

} // namespace

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           std::shared_ptr<engine_core> core) {
  auto& st = self->state;
  st.core = std::move(core);
  auto n = st.core->deployments.size();
  st.restarts.resize(n);
  for (size_t i = 0; i < n; ++i)
    st.children.push_back(start_child(self, i));
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  self->set_exit_handler([self](caf::exit_msg& em) {
    self->state.stopping = true;
    for (auto& child : self->state.children)
      self->send_exit(child, em.reason);
    self->quit(em.reason);
  });
  return {
      [self](providers_atom) { return self->state.children; },
      [self](crash_atom, const std::string& name) {
        auto& st = self->state;
        auto i = st.core->deployment_index.find(name);
        if (i != st.core->deployment_index.end())
          self->send(st.children[i->second], crash_atom::value);
      },
  };
}

} // namespace switchyard
