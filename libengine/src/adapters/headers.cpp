// Provider kind names and the headers every provider uses to say "wait".

#include "switchyard/adapter.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>

namespace switchyard {

namespace {

constexpr std::array<std::pair<provider_kind, std::string_view>, 6> kind_names{{
    {provider_kind::openai_chat, "openai_chat"},
    {provider_kind::anthropic_messages, "anthropic_messages"},
    {provider_kind::gemini, "gemini"},
    {provider_kind::azure_openai, "azure_openai"},
    {provider_kind::openai_compatible, "openai_compatible"},
    {provider_kind::openai_completions, "openai_completions"},
}};

/// Longest wait we believe; anything larger is garbage (and would overflow).
constexpr double max_seconds = 1e9;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

/// A non-negative finite decimal number that fills all of `s`.
std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  if (s.empty()
      || !(std::isdigit(static_cast<unsigned char>(s.front()))
           || s.front() == '.'))
    return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(v)
      || v < 0 || v > max_seconds * 1000)
    return std::nullopt;
  return v;
}

std::optional<int64_t> parse_integer(std::string_view s) {
  s = trim(s);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size())
    return std::nullopt;
  return v;
}

timespan from_seconds(double secs) {
  return std::chrono::round<timespan>(std::chrono::duration<double>{secs});
}

/// A header holding a number of seconds (`scale` 1) or milliseconds (1000).
std::optional<timespan> seconds_header(std::string_view v, double scale) {
  auto n = parse_number(v);
  if (!n || *n / scale > max_seconds)
    return std::nullopt;
  return std::chrono::round<timespan>(std::chrono::duration<double>{*n}
                                      / scale);
}

/// Reads exactly `n` digits at `pos`.
std::optional<int> digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size())
    return std::nullopt;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i])))
      return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

std::optional<wall_time> make_time(int y, int mo, int d, int h, int mi, int s) {
  using namespace std::chrono;
  // wall_time counts nanoseconds in 64 bits (years 1678..2261): a date
  // outside would overflow it (UBSan, found by fuzz-headers with a reset
  // date in 4052). No wait hint names such a date.
  if (y < 1970 || y > 2200)
    return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                     day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60)
    return std::nullopt;
  return wall_time{sys_days{ymd}.time_since_epoch() + hours{h} + minutes{mi}
                   + seconds{s}};
}

constexpr std::array<std::string_view, 7> day_names{"Mon", "Tue", "Wed", "Thu",
                                                    "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_day_names{
    "Monday", "Tuesday",  "Wednesday", "Thursday",
    "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> month_names{
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/// Returns the month number (1..12) of a three-letter name, or 0.
int month_of(std::string_view name) {
  auto i = std::find(month_names.begin(), month_names.end(), name);
  return i == month_names.end() ? 0
                                : static_cast<int>(i - month_names.begin()) + 1;
}

template <size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view s) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

/// Reads "HH:MM:SS" at `pos`.
std::optional<std::array<int, 3>> time_of_day(std::string_view s, size_t pos) {
  if (pos + 8 > s.size() || s[pos + 2] != ':' || s[pos + 5] != ':')
    return std::nullopt;
  auto h = digits(s, pos, 2);
  auto mi = digits(s, pos + 3, 2);
  auto sec = digits(s, pos + 6, 2);
  if (!h || !mi || !sec)
    return std::nullopt;
  return std::array<int, 3>{*h, *mi, *sec};
}

/// IMF-fixdate: "Wed, 21 Oct 2026 07:28:00 GMT".
std::optional<wall_time> parse_imf_fixdate(std::string_view s) {
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' '
      || s[16] != ' ' || s.substr(25) != " GMT"
      || !one_of(day_names, s.substr(0, 3)))
    return std::nullopt;
  auto mon = month_of(s.substr(8, 3));
  auto d = digits(s, 5, 2);
  auto y = digits(s, 12, 4);
  auto t = time_of_day(s, 17);
  if (mon == 0 || !d || !y || !t)
    return std::nullopt;
  return make_time(*y, mon, *d, (*t)[0], (*t)[1], (*t)[2]);
}

/// Obsolete RFC 850: "Wednesday, 21-Oct-26 07:28:00 GMT". A two-digit year
/// more than 50 years after `now` is the latest past year with those digits
/// (RFC 9110, section 5.6.7).
std::optional<wall_time> parse_rfc850(std::string_view s, wall_time now) {
  auto comma = s.find(", ");
  if (comma == std::string_view::npos
      || !one_of(long_day_names, s.substr(0, comma)))
    return std::nullopt;
  auto rest = s.substr(comma + 2);
  if (rest.size() != 22 || rest[2] != '-' || rest[6] != '-' || rest[9] != ' '
      || rest.substr(18) != " GMT")
    return std::nullopt;
  auto d = digits(rest, 0, 2);
  auto mon = month_of(rest.substr(3, 3));
  auto yy = digits(rest, 7, 2);
  auto t = time_of_day(rest, 10);
  if (mon == 0 || !d || !yy || !t)
    return std::nullopt;
  auto this_year = static_cast<int>(
      std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(now)}
          .year());
  auto y = this_year - this_year % 100 + *yy;
  if (y > this_year + 50)
    y -= 100;
  return make_time(y, mon, *d, (*t)[0], (*t)[1], (*t)[2]);
}

/// Obsolete asctime: "Wed Oct 21 07:28:00 2026" (day padded with a space).
std::optional<wall_time> parse_asctime(std::string_view s) {
  if (s.size() != 24 || s[3] != ' ' || s[7] != ' ' || s[10] != ' '
      || s[19] != ' ' || !one_of(day_names, s.substr(0, 3)))
    return std::nullopt;
  auto mon = month_of(s.substr(4, 3));
  auto d = s[8] == ' ' ? digits(s, 9, 1) : digits(s, 8, 2);
  auto t = time_of_day(s, 11);
  auto y = digits(s, 20, 4);
  if (mon == 0 || !d || !t || !y)
    return std::nullopt;
  return make_time(*y, mon, *d, (*t)[0], (*t)[1], (*t)[2]);
}

/// An HTTP date in any of the three forms RFC 9110 makes recipients accept.
std::optional<wall_time> parse_http_date(std::string_view s, wall_time now) {
  s = trim(s);
  if (auto t = parse_imf_fixdate(s))
    return t;
  if (auto t = parse_rfc850(s, now))
    return t;
  return parse_asctime(s);
}

/// RFC 3339: "2026-11-23T10:00:07Z", fractions and offsets allowed.
std::optional<wall_time> parse_rfc3339(std::string_view s) {
  s = trim(s);
  if (s.size() < 20 || s[4] != '-' || s[7] != '-'
      || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':'
      || s[16] != ':')
    return std::nullopt;
  auto y = digits(s, 0, 4);
  auto mo = digits(s, 5, 2);
  auto d = digits(s, 8, 2);
  auto h = digits(s, 11, 2);
  auto mi = digits(s, 14, 2);
  auto sec = digits(s, 17, 2);
  if (!y || !mo || !d || !h || !mi || !sec)
    return std::nullopt;
  auto t = make_time(*y, *mo, *d, *h, *mi, *sec);
  if (!t)
    return std::nullopt;
  size_t pos = 19;
  if (s[pos] == '.') {
    auto frac_begin = ++pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])))
      ++pos;
    if (pos == frac_begin)
      return std::nullopt;
    auto frac = parse_number(
        "0." + std::string{s.substr(frac_begin, pos - frac_begin)});
    *t += std::chrono::round<wall_time::duration>(
        std::chrono::duration<double>{*frac});
  }
  auto zone = s.substr(pos);
  if (zone == "Z" || zone == "z")
    return t;
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':')
    return std::nullopt;
  auto oh = digits(zone, 1, 2);
  auto om = digits(zone, 4, 2);
  if (!oh || !om)
    return std::nullopt;
  auto offset = std::chrono::hours{*oh} + std::chrono::minutes{*om};
  return zone[0] == '+' ? *t - offset : *t + offset;
}

timespan until(wall_time t, wall_time now) {
  if (t <= now)
    return timespan::zero();
  return std::chrono::duration_cast<timespan>(t - now);
}

/// Go-style durations as OpenAI sends them: "6ms", "1.85s", "1m30s",
/// "2h0m0s"; a bare number reads as seconds.
std::optional<timespan> parse_go_duration(std::string_view s) {
  s = trim(s);
  if (s.empty())
    return std::nullopt;
  if (auto plain = parse_number(s))
    return *plain > max_seconds ? std::nullopt
                                : std::optional{from_seconds(*plain)};
  double total = 0;
  while (!s.empty()) {
    size_t n = 0;
    while (n < s.size()
           && (std::isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.'))
      ++n;
    auto value = parse_number(s.substr(0, n));
    if (!value)
      return std::nullopt;
    s.remove_prefix(n);
    double scale = 0;
    if (s.starts_with("ms")) {
      scale = 1e-3, s.remove_prefix(2);
    } else if (s.starts_with("us")) {
      scale = 1e-6, s.remove_prefix(2);
    } else if (s.starts_with("\xC2\xB5s")) {
      scale = 1e-6, s.remove_prefix(3);
    } else if (s.starts_with("ns")) {
      scale = 1e-9, s.remove_prefix(2);
    } else if (s.starts_with("h")) {
      scale = 3600, s.remove_prefix(1);
    } else if (s.starts_with("m")) {
      scale = 60, s.remove_prefix(1);
    } else if (s.starts_with("s")) {
      scale = 1, s.remove_prefix(1);
    } else {
      return std::nullopt;
    }
    total += *value * scale;
  }
  if (total > max_seconds)
    return std::nullopt;
  return from_seconds(total);
}

} // namespace

std::string_view to_string(provider_kind k) noexcept {
  for (const auto& [kind, name] : kind_names)
    if (kind == k)
      return name;
  return "openai_chat";
}

std::optional<provider_kind>
parse_provider_kind(std::string_view name) noexcept {
  for (const auto& [kind, kind_name] : kind_names)
    if (kind_name == name)
      return kind;
  return std::nullopt;
}

std::optional<timespan> parse_retry_after(const header_list& headers,
                                          wall_time now) {
  for (auto name : {"retry-after-ms", "x-ms-retry-after-ms"})
    if (auto v = find_header(headers, name))
      if (auto t = seconds_header(*v, 1000))
        return t;
  auto v = find_header(headers, "retry-after");
  if (!v)
    return std::nullopt;
  if (auto t = seconds_header(*v, 1))
    return t;
  if (auto date = parse_http_date(*v, now))
    return until(*date, now);
  return std::nullopt;
}

std::optional<bool> parse_should_retry(const header_list& headers) {
  auto v = find_header(headers, "x-should-retry");
  if (!v)
    return std::nullopt;
  auto s = trim(*v);
  auto is = [s](std::string_view word) {
    return s.size() == word.size()
           && std::equal(s.begin(), s.end(), word.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == b;
              });
  };
  if (is("true"))
    return true;
  if (is("false"))
    return false;
  return std::nullopt;
}

namespace {

/// True when `name` starts with `prefix` (lower case), ignoring case.
bool istarts_with(std::string_view name, std::string_view prefix) {
  return name.size() >= prefix.size()
         && std::equal(
             prefix.begin(), prefix.end(), name.begin(), [](char p, char c) {
               return p == std::tolower(static_cast<unsigned char>(c));
             });
}

} // namespace

rate_limit_snapshot parse_rate_limit_headers(const header_list& headers,
                                             wall_time now) {
  rate_limit_snapshot out;
  // Every header read below starts with one of these: one pass over the
  // headers instead of twelve when (as mostly) there is none.
  if (std::none_of(headers.begin(), headers.end(), [](const auto& h) {
        return istarts_with(h.name, "x-ratelimit-")
               || istarts_with(h.name, "anthropic-ratelimit-");
      }))
    return out;
  auto integer = [&](std::string_view name) -> std::optional<int64_t> {
    if (auto v = find_header(headers, name))
      return parse_integer(*v);
    return std::nullopt;
  };
  auto either = [](std::optional<int64_t> a, std::optional<int64_t> b) {
    return a ? a : b;
  };
  out.limit_requests = either(integer("x-ratelimit-limit-requests"),
                              integer("anthropic-ratelimit-requests-limit"));
  out.remaining_requests
      = either(integer("x-ratelimit-remaining-requests"),
               integer("anthropic-ratelimit-requests-remaining"));
  out.limit_tokens = either(integer("x-ratelimit-limit-tokens"),
                            integer("anthropic-ratelimit-tokens-limit"));
  out.remaining_tokens
      = either(integer("x-ratelimit-remaining-tokens"),
               integer("anthropic-ratelimit-tokens-remaining"));
  auto reset = [&](std::string_view openai,
                   std::string_view anthropic) -> std::optional<timespan> {
    if (auto v = find_header(headers, openai))
      if (auto d = parse_go_duration(*v))
        return d;
    if (auto v = find_header(headers, anthropic))
      if (auto t = parse_rfc3339(*v))
        return until(*t, now);
    return std::nullopt;
  };
  out.reset_requests = reset("x-ratelimit-reset-requests",
                             "anthropic-ratelimit-requests-reset");
  out.reset_tokens
      = reset("x-ratelimit-reset-tokens", "anthropic-ratelimit-tokens-reset");
  return out;
}

} // namespace switchyard
