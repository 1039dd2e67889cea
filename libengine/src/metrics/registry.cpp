#include "switchyard/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace switchyard {

// -- metric_histogram ---------------------------------------------------------

metric_histogram::metric_histogram(
    std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      buckets_(new std::atomic<uint64_t>[bounds_->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void metric_histogram::observe(double v) noexcept {
  const auto& b = *bounds_;
  auto i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), v)
                               - b.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

uint64_t metric_histogram::count() const noexcept {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i)
    n += bucket(i);
  return n;
}

// -- helpers ------------------------------------------------------------------

namespace {

bool valid_name(std::string_view name, bool colons) {
  if (name.empty())
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
              || (colons && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

std::string escape_help(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  // The shortest form that reads back as the same double.
  char buf[32];
  for (int digits = 15; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

/// `{a="x",b="y"}` (plus `extra` as a last label), or "" without labels.
std::string label_set(const std::vector<std::string>& names,
                      const std::vector<std::string>& values,
                      std::string_view extra_name = {},
                      std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty())
    return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty())
      out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

const char* type_name(metric_type t) {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

void header(std::string& out, const metric_family_info& info) {
  out += "# HELP ";
  out += info.name;
  out += ' ';
  out += escape_help(info.help);
  out += "\n# TYPE ";
  out += info.name;
  out += ' ';
  out += type_name(info.type);
  out += '\n';
}

template <class Family>
void render_simple(std::string& out, const Family& fam) {
  header(out, fam.info());
  fam.each([&](const std::vector<std::string>& values, const auto& m) {
    out += fam.info().name;
    out += label_set(fam.info().labels, values);
    out += ' ';
    out += number(m.value());
    out += '\n';
  });
}

void render_histogram(std::string& out,
                      const metric_family<metric_histogram>& fam) {
  const auto& info = fam.info();
  header(out, info);
  fam.each(
      [&](const std::vector<std::string>& values, const metric_histogram& h) {
        uint64_t cumulative = 0;
        const auto& b = h.bounds();
        for (size_t i = 0; i <= b.size(); ++i) {
          cumulative += h.bucket(i);
          out += info.name;
          out += "_bucket";
          out += label_set(info.labels, values, "le",
                           i < b.size() ? number(b[i]) : "+Inf");
          out += ' ';
          out += number(static_cast<double>(cumulative));
          out += '\n';
        }
        auto labels = label_set(info.labels, values);
        out += info.name + "_sum" + labels + ' ' + number(h.sum()) + '\n';
        out += info.name + "_count" + labels + ' '
               + number(static_cast<double>(cumulative)) + '\n';
      });
}

} // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::vector<double> default_duration_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

// -- metric_registry ----------------------------------------------------------

template <class Family, class... Args>
Family& metric_registry::add(metric_family_info info, Args&&... args) {
  if (!valid_name(info.name, true))
    throw std::invalid_argument("invalid metric name: " + info.name);
  for (const auto& l : info.labels)
    if (!valid_name(l, false) || l.rfind("__", 0) == 0 || l == "le")
      throw std::invalid_argument(info.name + ": invalid label name: " + l);
  std::lock_guard guard{mtx_};
  for (auto& e : families_) {
    if (e.info->name != info.name)
      continue;
    if (e.type != info.type || e.info->labels != info.labels)
      throw std::invalid_argument(info.name
                                  + ": registered before with another type "
                                    "or labels");
    return *static_cast<Family*>(e.family.get());
  }
  auto fam
      = std::make_shared<Family>(std::move(info), std::forward<Args>(args)...);
  auto* ptr = fam.get();
  families_.push_back(entry{ptr->info().type, std::move(fam), &ptr->info()});
  return *ptr;
}

metric_family<metric_counter>&
metric_registry::counter(std::string name, std::string help,
                         std::vector<std::string> labels) {
  return add<metric_family<metric_counter>>(
      metric_family_info{std::move(name), std::move(help), metric_type::counter,
                         std::move(labels)});
}

metric_family<metric_gauge>&
metric_registry::gauge(std::string name, std::string help,
                       std::vector<std::string> labels) {
  return add<metric_family<metric_gauge>>(metric_family_info{
      std::move(name), std::move(help), metric_type::gauge, std::move(labels)});
}

metric_family<metric_histogram>&
metric_registry::histogram(std::string name, std::string help,
                           std::vector<std::string> labels,
                           std::vector<double> bounds) {
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end())
      || std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end())
    throw std::invalid_argument(name + ": bucket bounds must ascend");
  auto shared = std::make_shared<const std::vector<double>>(std::move(bounds));
  return add<metric_family<metric_histogram>>(
      metric_family_info{std::move(name), std::move(help),
                         metric_type::histogram, std::move(labels)},
      shared);
}

void metric_registry::on_collect(std::function<void()> fn) {
  std::lock_guard guard{mtx_};
  collectors_.push_back(std::move(fn));
}

std::string metric_registry::render() const {
  std::vector<std::function<void()>> collectors;
  std::vector<entry> families;
  {
    std::lock_guard guard{mtx_};
    collectors = collectors_;
    families = families_;
  }
  for (auto& fn : collectors)
    fn();
  std::string out;
  for (auto& e : families) {
    switch (e.type) {
      case metric_type::counter:
        render_simple(
            out, *static_cast<metric_family<metric_counter>*>(e.family.get()));
        break;
      case metric_type::gauge:
        render_simple(
            out, *static_cast<metric_family<metric_gauge>*>(e.family.get()));
        break;
      case metric_type::histogram:
        render_histogram(out, *static_cast<metric_family<metric_histogram>*>(
                                  e.family.get()));
        break;
    }
  }
  return out;
}

} // namespace switchyard
