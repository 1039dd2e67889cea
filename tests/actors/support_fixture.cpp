#include "support_fixture.hpp"

#include <array>
#include <utility>

namespace switchyard::test {

std::string failure_code(const call_result& r) {
  return r ? std::string{} : r.error().failure.code;
}

std::string failure_class(const call_result& r) {
  return r ? std::string{} : std::string{to_string(r.error().failure.cls)};
}

std::vector<std::string> attempt_trail(const call_result& r) {
  const auto& attempts = r ? r->attempts : r.error().attempts;
  std::vector<std::string> out;
  for (const auto& a : attempts)
    out.push_back(a.deployment);
  return out;
}

std::vector<std::string> transitions(const event_log& log,
                                     const std::string& deployment) {
  std::vector<std::string> out;
  for (const auto& ev : log.of<breaker_changed>())
    if (ev.deployment == deployment)
      out.push_back(ev.from + ">" + ev.to);
  return out;
}

std::vector<std::string> refusals(const event_log& log) {
  std::vector<std::string> out;
  for (const auto& ev : log.of<call_refused>())
    out.push_back(std::to_string(ev.call_id) + " " + ev.route + "/"
                  + ev.deployment + " " + ev.reason);
  return out;
}

actor_fixture::actor_fixture()
    : client(std::make_shared<fake_client>()),
      events(std::make_shared<event_log>()),
      outcomes(std::make_shared<outcome_map>()) {
  chat_request req;
  message msg;
  msg.from = role::user;
  msg.text = "What is the capital of France?";
  req.messages.push_back(std::move(msg));
  req.max_tokens = 64;
  request = std::make_shared<const chat_request>(std::move(req));
}

actor_fixture::~actor_fixture() {
  // Stop the router (calls still running get their answer) and the
  // providers, so that the system can shut down.
  if (router)
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
  if (sup)
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  for (auto& c : collectors)
    caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  consume_messages();
}

void actor_fixture::start(std::string_view json, uint64_t seed) {
  auto no_env = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  auto cfg = parse_config(json, no_env);
  if (!cfg)
    CAF_FAIL("bad test config: " << to_string(cfg.error()));
  core = std::make_shared<engine_core>(std::move(*cfg), client, events, seed,
                                       now());
  sup = sys.spawn(supervisor, core);
  router = sys.spawn(switchyard::router, core);
  consume_messages();
  for (auto& hdl : core->directory.all())
    CAF_REQUIRE(hdl != nullptr);
}

uint64_t actor_fixture::call(call_options opts) {
  auto id = next_call_id++;
  auto out = outcomes;
  call_start cs;
  cs.id = id;
  cs.request = request;
  cs.options = std::move(opts);
  cs.done
      = [out, id](call_result r) { out->insert_or_assign(id, std::move(r)); };
  core->calls->started();
  caf::anon_send(router, call_atom::value, std::move(cs));
  consume_messages();
  return id;
}

bool recording_sink::on_event(stream_event ev) {
  auto& evs = (*out_)[id_];
  bool terminal = std::holds_alternative<stream_end>(ev)
                  || std::holds_alternative<stream_error>(ev);
  if (!terminal && capacity_ != 0 && evs.size() >= capacity_)
    return false;
  evs.push_back(std::move(ev));
  return true;
}

std::vector<std::string> event_kinds(const std::vector<stream_event>& evs) {
  static constexpr std::array<const char*, 6> names{"start",  "text", "tool",
                                                    "notice", "end",  "error"};
  std::vector<std::string> out;
  for (const auto& ev : evs)
    out.emplace_back(names.at(ev.index()));
  return out;
}

std::string text_of(const std::vector<stream_event>& evs) {
  std::string out;
  for (const auto& ev : evs)
    if (const auto* t = std::get_if<text_delta>(&ev))
      out += t->text;
  return out;
}

uint64_t actor_fixture::stream(call_options opts, size_t capacity) {
  (*streams)[next_call_id];
  return stream_to(
      std::make_shared<recording_sink>(streams, next_call_id, capacity),
      std::move(opts));
}

uint64_t actor_fixture::stream_to(std::shared_ptr<stream_sink> sink,
                                  call_options opts) {
  auto id = next_call_id++;
  auto out = outcomes;
  auto req = std::make_shared<chat_request>(*request);
  req->stream = true;
  call_start cs;
  cs.id = id;
  cs.request = std::move(req);
  cs.options = std::move(opts);
  cs.done
      = [out, id](call_result r) { out->insert_or_assign(id, std::move(r)); };
  cs.sink = std::move(sink);
  core->calls->started();
  caf::anon_send(router, call_atom::value, std::move(cs));
  consume_messages();
  return id;
}

const std::vector<stream_event>& actor_fixture::streamed(uint64_t id) const {
  return streams->at(id);
}

void actor_fixture::chunk(uint64_t job, std::string_view bytes) {
  client->chunk(job, bytes);
  consume_messages();
}

void actor_fixture::cancel(uint64_t id) {
  caf::anon_send(router, cancel_atom::value, id);
  consume_messages();
}

bool actor_fixture::done(uint64_t id) const {
  return outcomes->count(id) != 0;
}

const call_result& actor_fixture::result(uint64_t id) const {
  auto i = outcomes->find(id);
  if (i == outcomes->end())
    CAF_FAIL("call " << id << " has no outcome yet");
  return i->second;
}

void actor_fixture::answer(uint64_t id, transfer_result tr) {
  client->answer(id, std::move(tr));
  consume_messages();
}

size_t actor_fixture::advance(timespan d) {
  auto fired = advance_time(d);
  consume_messages();
  return fired;
}

time_point actor_fixture::now() const {
  return sched.clock().now();
}

size_t actor_fixture::index_of(const std::string& name) const {
  auto i = core->deployment_index.find(name);
  if (i == core->deployment_index.end())
    CAF_FAIL("unknown deployment " << name);
  return i->second;
}

deployment_runtime& actor_fixture::runtime(const std::string& name) const {
  return *core->deployments[index_of(name)];
}

provider_actor actor_fixture::provider(const std::string& name) const {
  return core->directory.get(index_of(name));
}

std::optional<deployment_result> actor_fixture::ask(const std::string& name,
                                                    deployment_call call) {
  using result_slot = std::shared_ptr<std::optional<deployment_result>>;
  auto out = std::make_shared<std::optional<deployment_result>>();
  // A stand-in router that keeps the one result it gets.
  auto collector = sys.spawn(
      [](result_receiver::pointer,
         result_slot slot) -> result_receiver::behavior_type {
        return {
            [slot](result_atom, uint64_t, uint32_t, deployment_result& r) {
              *slot = std::move(r);
            },
        };
      },
      out);
  call.reply_to = collector;
  caf::anon_send(provider(name), call_atom::value, std::move(call));
  consume_messages();
  caf::anon_send_exit(collector, caf::exit_reason::user_shutdown);
  consume_messages();
  return std::move(*out);
}

actor_fixture::result_list actor_fixture::send_call(const std::string& name,
                                                    deployment_call call) {
  auto out = std::make_shared<std::vector<deployment_result>>();
  auto collector = sys.spawn(
      [](result_receiver::pointer,
         result_list list) -> result_receiver::behavior_type {
        return {
            [list](result_atom, uint64_t, uint32_t, deployment_result& r) {
              list->push_back(std::move(r));
            },
        };
      },
      out);
  collectors.push_back(collector);
  call.reply_to = collector;
  caf::anon_send(provider(name), call_atom::value, std::move(call));
  consume_messages();
  return out;
}

deployment_call actor_fixture::make_call(uint64_t call_id, timespan deadline_in,
                                         const std::string& route) const {
  auto plan = core->find_route(route);
  if (plan == nullptr)
    CAF_FAIL("unknown route " << route);
  deployment_call call;
  call.call_id = call_id;
  call.request = request;
  call.route = plan->config.get();
  call.deadline = now() + deadline_in;
  return call;
}

deployment_status actor_fixture::status(const std::string& name) {
  auto out = std::make_shared<std::optional<deployment_status>>();
  auto hdl = provider(name);
  sys.spawn(
      [](caf::event_based_actor* self,
         std::shared_ptr<std::optional<deployment_status>> result,
         provider_actor to) {
        self->request(to, caf::infinite, status_atom::value)
            .then([result](deployment_status& s) { *result = std::move(s); });
      },
      out, hdl);
  consume_messages();
  if (!*out)
    CAF_FAIL("provider " << name << " did not report its status");
  return std::move(**out);
}

void actor_fixture::crash(const std::string& name) {
  caf::anon_send(sup, crash_atom::value, name);
  consume_messages();
}

} // namespace switchyard::test
