#include "scenario.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace switchyard::load {

namespace {

using nlohmann::json;

/// Throws a message naming the key.
[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw std::runtime_error{where + ": " + what};
}

void only_keys(const json& obj, const std::string& where,
               std::initializer_list<const char*> keys) {
  if (!obj.is_object())
    bad(where, "expected an object");
  for (const auto& [k, v] : obj.items()) {
    bool known = false;
    for (const auto* key : keys)
      known = known || k == key;
    if (!known)
      bad(where + "/" + k, "unknown key");
  }
}

timespan duration_at(const json& v, const std::string& where) {
  if (v.is_number())
    return std::chrono::duration_cast<timespan>(
        std::chrono::duration<double, std::milli>(v.get<double>()));
  if (v.is_string())
    if (auto d = parse_duration(v.get<std::string>()))
      return *d;
  bad(where, "expected a duration such as \"6s\", \"500ms\" or \"2m\"");
}

timespan ms_at(const json& obj, const char* key, const std::string& where) {
  if (!obj.contains(key))
    return timespan{};
  const auto& v = obj.at(key);
  if (!v.is_number() || v.get<double>() < 0)
    bad(where + "/" + key, "expected milliseconds >= 0");
  return std::chrono::duration_cast<timespan>(
      std::chrono::duration<double, std::milli>(v.get<double>()));
}

std::string env_name(const std::string& mock) {
  std::string out = "MOCK_";
  for (char c : mock)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return out + "_PORT";
}

expectation read_expectation(const json& e, const std::string& where) {
  only_keys(e, where,
            {"metric", "min", "max", "breaker", "to", "after_ms", "within_ms",
             "never", "why"});
  expectation out;
  if (e.contains("why"))
    out.why = e.at("why").get<std::string>();
  if (e.contains("metric")) {
    out.metric = e.at("metric").get<std::string>();
    if (e.contains("min"))
      out.min = e.at("min").get<double>();
    if (e.contains("max"))
      out.max = e.at("max").get<double>();
    if (!out.min && !out.max)
      bad(where, "a metric needs \"min\" or \"max\"");
    return out;
  }
  if (!e.contains("breaker"))
    bad(where, "expected \"metric\" or \"breaker\"");
  out.breaker = e.at("breaker").get<std::string>();
  if (e.contains("to"))
    out.to = e.at("to").get<std::string>();
  out.after = ms_at(e, "after_ms", where);
  out.within = ms_at(e, "within_ms", where);
  out.never = e.value("never", false);
  if (!out.never && !e.contains("within_ms"))
    bad(where, "a breaker expectation needs \"within_ms\" or \"never\"");
  return out;
}

load_scenario parse(const json& j, const std::string& file) {
  only_keys(j, file,
            {"description", "load", "mocks", "engine", "route", "target",
             "events", "expect"});
  load_scenario s;
  s.file = file;
  s.description = j.value("description", "");
  if (j.contains("load")) {
    const auto& l = j.at("load");
    auto w = file + ": /load";
    only_keys(
        l, w,
        {"rate", "concurrency", "duration", "warmup", "stream", "poisson"});
    if (l.contains("rate"))
      s.rate = l.at("rate").get<double>();
    if (l.contains("concurrency"))
      s.concurrency = l.at("concurrency").get<size_t>();
    if (l.contains("duration"))
      s.duration = duration_at(l.at("duration"), w + "/duration");
    if (l.contains("warmup"))
      s.warmup = duration_at(l.at("warmup"), w + "/warmup");
    if (l.contains("stream"))
      s.stream = l.at("stream").get<bool>();
    if (l.contains("poisson"))
      s.poisson = l.at("poisson").get<bool>();
  }
  if (j.contains("mocks")) {
    const auto& m = j.at("mocks");
    if (!m.is_object())
      bad(file + ": /mocks", "expected an object name -> mock scenario");
    for (const auto& [name, sc] : m.items())
      s.mocks.push_back({name, env_name(name), sc});
  }
  if (j.contains("engine"))
    s.engine = j.at("engine");
  s.route = j.value("route", "");
  s.target = j.value("target", "");
  if (s.engine.is_null() == s.target.empty())
    bad(file, "a scenario names exactly one of \"engine\" and \"target\"");
  if (j.contains("events"))
    for (size_t i = 0; i < j.at("events").size(); ++i) {
      const auto& e = j.at("events").at(i);
      auto w = file + ": /events/" + std::to_string(i);
      only_keys(e, w, {"at_ms", "label"});
      s.events.push_back({ms_at(e, "at_ms", w), e.value("label", "")});
    }
  if (j.contains("expect"))
    for (size_t i = 0; i < j.at("expect").size(); ++i)
      s.expect.push_back(read_expectation(
          j.at("expect").at(i), file + ": /expect/" + std::to_string(i)));
  return s;
}

} // namespace

std::optional<timespan> parse_duration(std::string_view text) {
  size_t i = 0;
  while (
      i < text.size()
      && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0)
    return std::nullopt;
  double value = 0;
  try {
    size_t used = 0;
    value = std::stod(std::string{text.substr(0, i)}, &used);
    if (used != i)
      return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
  auto unit = text.substr(i);
  double scale = 0;
  if (unit == "us")
    scale = 1e-6;
  else if (unit == "ms")
    scale = 1e-3;
  else if (unit == "s")
    scale = 1;
  else if (unit == "m")
    scale = 60;
  else if (unit == "h")
    scale = 3600;
  else
    return std::nullopt;
  return std::chrono::duration_cast<timespan>(
      std::chrono::duration<double>(value * scale));
}

expected<load_scenario, std::string> read_scenario(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return unexpected{path + ": cannot read the file"};
  std::ostringstream buf;
  buf << in.rdbuf();
  try {
    auto j = json::parse(buf.str(), nullptr, true, true);
    return parse(j, path);
  } catch (const std::exception& e) {
    return unexpected{std::string{e.what()}};
  }
}

std::string expand_env(std::string_view text) {
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    auto open = text.find("${", at);
    auto close = open == std::string_view::npos ? open : text.find('}', open);
    if (close == std::string_view::npos) {
      out.append(text.substr(at));
      break;
    }
    out.append(text.substr(at, open - at));
    std::string name{text.substr(open + 2, close - open - 2)};
    if (const char* v = std::getenv(name.c_str()))
      out += v;
    else
      out.append(text.substr(open, close - open + 1));
    at = close + 1;
  }
  return out;
}

std::string describe(const expectation& e) {
  std::ostringstream out;
  if (!e.metric.empty()) {
    out << e.metric;
    if (e.min)
      out << " >= " << *e.min;
    if (e.min && e.max)
      out << " and";
    if (e.max)
      out << " <= " << *e.max;
  } else if (e.never) {
    out << "breaker of " << e.breaker << " never goes " << e.to;
  } else {
    auto ms = [](timespan d) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    out << "breaker of " << e.breaker << " goes " << e.to << " within "
        << ms(e.within) << " ms of " << ms(e.after) << " ms";
  }
  return out.str();
}

} // namespace switchyard::load
