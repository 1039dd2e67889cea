#include "scenario.hpp"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace switchyard::mock {

namespace {

using json = nlohmann::json;

constexpr std::string_view known_kinds[] = {
    "openai_chat", "openai_completions", "openai_models", "anthropic_messages",
    "gemini",      "azure_openai",
};

/// A scenario error at a JSON pointer; caught by parse_scenario.
struct scenario_error {
  std::string path;
  std::string what;
};

[[noreturn]] void fail(const std::string& path, std::string what) {
  throw scenario_error{path.empty() ? "/" : path, std::move(what)};
}

void check_keys(const json& obj, const std::string& path,
                std::initializer_list<std::string_view> allowed) {
  if (!obj.is_object())
    fail(path, "expected an object, got " + obj.dump());
  for (const auto& [key, value] : obj.items()) {
    bool ok = false;
    for (auto a : allowed)
      ok = ok || a == key;
    if (!ok) {
      std::string list;
      for (auto a : allowed)
        list.append(list.empty() ? "" : ", ").append(a);
      fail(path + "/" + key, "unknown key (allowed: " + list + ")");
    }
  }
}

double number(const json& v, const std::string& path, double lo, double hi) {
  if (!v.is_number())
    fail(path, "expected a number, got " + v.dump());
  auto d = v.get<double>();
  if (!(d >= lo && d <= hi)) {
    std::ostringstream msg;
    msg << "expected a number in [" << lo << ", " << hi << "], got "
        << v.dump();
    fail(path, msg.str());
  }
  return d;
}

int64_t milliseconds(const json& v, const std::string& path) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0)
    fail(path, "expected a non-negative integer (ms), got " + v.dump());
  return v.get<int64_t>();
}

std::string string_at(const json& v, const std::string& path) {
  if (!v.is_string())
    fail(path, "expected a string, got " + v.dump());
  return v.get<std::string>();
}

distribution parse_distribution(const json& v, const std::string& path) {
  distribution d;
  if (v.is_number()) {
    d.a = number(v, path, 0, 1e9);
    return d;
  }
  if (!v.is_object() || v.size() != 1)
    fail(path, "expected a number or one of {\"fixed\":ms}, "
               "{\"uniform\":{\"min\",\"max\"}}, "
               "{\"lognormal\":{\"median\",\"sigma\"}}");
  auto it = v.begin();
  auto sub = path + "/" + it.key();
  if (it.key() == "fixed") {
    d.a = number(*it, sub, 0, 1e9);
  } else if (it.key() == "uniform") {
    d.kind = distribution::shape::uniform;
    if (it->is_array() && it->size() == 2) {
      d.a = number((*it)[0], sub + "/0", 0, 1e9);
      d.b = number((*it)[1], sub + "/1", 0, 1e9);
    } else {
      check_keys(*it, sub, {"min", "max"});
      if (!it->contains("min") || !it->contains("max"))
        fail(sub, R"(needs "min" and "max")");
      d.a = number(it->at("min"), sub + "/min", 0, 1e9);
      d.b = number(it->at("max"), sub + "/max", 0, 1e9);
    }
    if (d.b < d.a)
      fail(sub, "max is less than min");
  } else if (it.key() == "lognormal") {
    d.kind = distribution::shape::lognormal;
    check_keys(*it, sub, {"median", "sigma"});
    if (!it->contains("median") || !it->contains("sigma"))
      fail(sub, R"(needs "median" and "sigma")");
    d.a = number(it->at("median"), sub + "/median", 0, 1e9);
    d.b = number(it->at("sigma"), sub + "/sigma", 0, 10);
  } else {
    fail(sub, "unknown distribution (fixed, uniform, lognormal)");
  }
  return d;
}

std::vector<fault_entry> parse_faults(const json& v, const std::string& path) {
  if (!v.is_array())
    fail(path, R"(expected an array of {"fault":..., "p":...})");
  std::vector<fault_entry> result;
  double outcome_p = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    auto at = path + "/" + std::to_string(i);
    const auto& e = v[i];
    check_keys(e, at, {"fault", "p", "ms"});
    if (!e.contains("fault"))
      fail(at, "missing \"fault\"");
    fault_entry entry;
    entry.spec = string_at(e["fault"], at + "/fault");
    if (e.contains("p"))
      entry.p = number(e["p"], at + "/p", 0, 1);
    fault_plan scratch;
    if (e.contains("ms")) {
      if (entry.spec != "latency" && entry.spec != "first_byte")
        fail(at + "/ms", R"(only "latency" and "first_byte" take "ms")");
      entry.ms = parse_distribution(e["ms"], at + "/ms");
      entry.modifier = true;
    } else {
      if (auto err = apply_fault_list(entry.spec, scratch))
        fail(at + "/fault", *err);
      if (scratch.names.empty())
        fail(at + "/fault", "names no fault");
      entry.modifier = true;
      for (auto name : scratch.names)
        entry.modifier = entry.modifier && is_modifier_fault(name);
    }
    if (!entry.modifier)
      outcome_p += entry.p;
    result.push_back(std::move(entry));
  }
  if (outcome_p > 1.0 + 1e-9)
    fail(path, "the probabilities of the outcome faults add up to more "
               "than 1");
  return result;
}

std::vector<phase> parse_timeline(const json& v, const std::string& path) {
  if (!v.is_array() || v.empty())
    fail(path, "expected a non-empty array of phases");
  std::vector<phase> result;
  for (size_t i = 0; i < v.size(); ++i) {
    auto at = path + "/" + std::to_string(i);
    check_keys(v[i], at, {"for_ms", "faults"});
    phase ph;
    if (v[i].contains("for_ms"))
      ph.for_ms = milliseconds(v[i]["for_ms"], at + "/for_ms");
    else if (i + 1 != v.size())
      fail(at, "missing \"for_ms\" (only the last phase is open-ended)");
    if (v[i].contains("faults"))
      ph.faults = parse_faults(v[i]["faults"], at + "/faults");
    result.push_back(std::move(ph));
  }
  return result;
}

rule parse_rule(const json& v, const std::string& path) {
  check_keys(v, path,
             {"path_prefix", "kind", "model", "words", "chunk_delay_ms",
              "latency", "faults", "timeline"});
  rule r;
  if (v.contains("path_prefix"))
    r.path_prefix = string_at(v["path_prefix"], path + "/path_prefix");
  if (v.contains("kind")) {
    r.kind = string_at(v["kind"], path + "/kind");
    bool ok = false;
    for (auto k : known_kinds)
      ok = ok || k == r.kind;
    if (!ok)
      fail(path + "/kind",
           "unknown kind \"" + r.kind
               + "\" (openai_chat, openai_completions, openai_models, "
                 "anthropic_messages, gemini, azure_openai)");
  }
  if (v.contains("model"))
    r.model = string_at(v["model"], path + "/model");
  if (v.contains("words"))
    r.words = milliseconds(v["words"], path + "/words");
  if (v.contains("chunk_delay_ms"))
    r.chunk_delay_ms
        = milliseconds(v["chunk_delay_ms"], path + "/chunk_delay_ms");
  if (v.contains("latency"))
    r.latency = parse_distribution(v["latency"], path + "/latency");
  if (v.contains("faults"))
    r.faults = parse_faults(v["faults"], path + "/faults");
  if (v.contains("timeline")) {
    if (v.contains("faults"))
      fail(path, R"("faults" and "timeline" exclude each other)");
    r.timeline = parse_timeline(v["timeline"], path + "/timeline");
  }
  return r;
}

scenario parse_root(const json& root) {
  check_keys(root, "", {"defaults", "rules", "listener"});
  scenario sc;
  if (root.contains("defaults")) {
    const auto& d = root["defaults"];
    check_keys(d, "/defaults", {"words", "chunk_delay_ms", "latency"});
    if (d.contains("words"))
      sc.words = milliseconds(d["words"], "/defaults/words");
    if (d.contains("chunk_delay_ms"))
      sc.chunk_delay_ms
          = milliseconds(d["chunk_delay_ms"], "/defaults/chunk_delay_ms");
    if (d.contains("latency"))
      sc.latency = parse_distribution(d["latency"], "/defaults/latency");
  }
  if (root.contains("rules")) {
    const auto& rs = root["rules"];
    if (!rs.is_array())
      fail("/rules", "expected an array of rules");
    for (size_t i = 0; i < rs.size(); ++i)
      sc.rules.push_back(parse_rule(rs[i], "/rules/" + std::to_string(i)));
  }
  if (root.contains("listener")) {
    const auto& ls = root["listener"];
    if (!ls.is_array())
      fail("/listener", R"(expected an array of {"at_ms", "close_for_ms"})");
    for (size_t i = 0; i < ls.size(); ++i) {
      auto at = "/listener/" + std::to_string(i);
      check_keys(ls[i], at, {"at_ms", "close_for_ms"});
      if (!ls[i].contains("at_ms") || !ls[i].contains("close_for_ms"))
        fail(at, R"(needs "at_ms" and "close_for_ms")");
      sc.listener.push_back(
          {milliseconds(ls[i]["at_ms"], at + "/at_ms"),
           milliseconds(ls[i]["close_for_ms"], at + "/close_for_ms")});
    }
  }
  return sc;
}

} // namespace

uint64_t prng::next() noexcept {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double prng::uniform() noexcept {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

double prng::normal() noexcept {
  double u1 = 1.0 - uniform(); // (0, 1]
  double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

int64_t distribution::sample(prng& rng) const noexcept {
  double v = a;
  switch (kind) {
    case shape::fixed:
      break;
    case shape::uniform:
      v = a + (b - a) * rng.uniform();
      break;
    case shape::lognormal:
      v = a * std::exp(b * rng.normal());
      break;
  }
  return static_cast<int64_t>(std::llround(std::min(v, 1e9)));
}

expected<scenario> parse_scenario(std::string_view text) {
  json root;
  try {
    root = json::parse(text.begin(), text.end(), nullptr, true, true);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double
    // (fuzz-mock: "3333333e3333333333" ended the mock with terminate).
    return unexpected{std::string{"invalid JSON: "} + e.what()};
  }
  try {
    return parse_root(root);
  } catch (const scenario_error& e) {
    return unexpected{e.path + ": " + e.what};
  }
}

expected<scenario> load_scenario_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return unexpected{path + ": cannot open file"};
  std::ostringstream text;
  text << in.rdbuf();
  auto result = parse_scenario(text.str());
  if (!result)
    return unexpected{path + ": " + result.error()};
  return result;
}

const rule* find_rule(const scenario& sc, std::string_view path,
                      std::string_view kind, std::string_view model) noexcept {
  for (const auto& r : sc.rules) {
    if (!r.path_prefix.empty()
        && path.substr(0, r.path_prefix.size()) != r.path_prefix)
      continue;
    if (!r.kind.empty() && r.kind != kind)
      continue;
    if (!r.model.empty() && r.model != model)
      continue;
    return &r;
  }
  return nullptr;
}

const std::vector<fault_entry>& active_faults(const rule& r,
                                              int64_t elapsed_ms) noexcept {
  if (r.timeline.empty())
    return r.faults;
  int64_t start = 0;
  for (const auto& ph : r.timeline) {
    if (!ph.for_ms || elapsed_ms < start + *ph.for_ms)
      return ph.faults;
    start += *ph.for_ms;
  }
  return r.timeline.back().faults;
}

void draw_faults(const std::vector<fault_entry>& entries, prng& rng,
                 fault_plan& plan) {
  if (entries.empty())
    return;
  double roll = rng.uniform();
  double acc = 0;
  bool outcome_drawn = false;
  for (const auto& e : entries) {
    bool take = false;
    if (e.modifier) {
      take = e.p >= 1.0 || rng.uniform() < e.p;
    } else if (!outcome_drawn) {
      acc += e.p;
      take = outcome_drawn = roll < acc;
    }
    if (!take)
      continue;
    if (e.ms)
      apply_fault(e.spec + "=" + std::to_string(e.ms->sample(rng)), plan);
    else
      apply_fault_list(e.spec, plan);
  }
}

} // namespace switchyard::mock
