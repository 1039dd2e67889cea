#pragma once

// Internal to the config parser: readers for one key of a section, one per
// kind of value, to build `section_keys` tables from member pointers.

#include "reader.hpp"

#include <optional>
#include <string>
#include <utility>

namespace switchyard::config_detail {

/// Stores `x` in `out` when set; returns whether it was.
template <class T, class U>
bool assign(std::optional<T> x, U& out) {
  if (!x)
    return false;
  out = static_cast<U>(*x);
  return true;
}

// -- key readers: one per kind of value ---------------------------------------

/// A whole number of milliseconds of at least `min_ms`.
template <class S>
key_reader<S> millis_key(timespan S::*m, int64_t min_ms) {
  return [m, min_ms](reader& rd, const json& v, const std::string& p, S& out) {
    return assign(rd.millis(v, p, min_ms), out.*m);
  };
}

/// Milliseconds of at least 1, or null for "no limit".
template <class S>
key_reader<S> limit_key(std::optional<timespan> S::*m) {
  return [m](reader& rd, const json& v, const std::string& p, S& out) {
    if (v.is_null()) {
      (out.*m).reset();
      return true;
    }
    if (!v.is_number()) {
      rd.error(p, "expected a positive integer or null, got " + describe(v));
      return false;
    }
    return assign(rd.millis(v, p, 1), out.*m);
  };
}

/// An integer in [min, max].
template <class S, class T>
key_reader<S> integer_key(T S::*m, int64_t min, int64_t max = INT64_MAX) {
  return
      [m, min, max](reader& rd, const json& v, const std::string& p, S& out) {
        return assign(rd.integer(v, p, min, max), out.*m);
      };
}

/// A number in [min, max], or (min, max] with `exclusive_min`.
template <class S>
key_reader<S> number_key(double S::*m, double min, double max,
                         bool exclusive_min = false) {
  return [=](reader& rd, const json& v, const std::string& p, S& out) {
    return assign(rd.number(v, p, min, max, exclusive_min), out.*m);
  };
}

/// true or false.
template <class S>
key_reader<S> flag_key(bool S::*m) {
  return [m](reader& rd, const json& v, const std::string& p, S& out) {
    return assign(rd.boolean(v, p), out.*m);
  };
}

/// A string (with `${NAME}` substituted).
template <class S>
key_reader<S> string_key(std::string S::*m) {
  return [m](reader& rd, const json& v, const std::string& p, S& out) {
    return assign(rd.string(v, p), out.*m);
  };
}

/// A name from `table`; `what` names the kind in errors. The member may be
/// the enumeration or an optional of it.
template <class S, class M, class E>
key_reader<S> enum_key(M S::*m, std::string_view what,
                       const name_table<E>& table) {
  return [m, what, &table](reader& rd, const json& v, const std::string& p,
                           S& out) {
    return assign(rd.enumeration(v, p, what, table), out.*m);
  };
}

/// A nested object overlaid by `apply` onto the member `m`.
template <class S, class M>
key_reader<S> object_key(M S::*m, void (*apply)(reader&, const json&,
                                                const std::string&, M&)) {
  return [m, apply](reader& rd, const json& v, const std::string& p, S& out) {
    apply(rd, v, p, out.*m);
    return true;
  };
}

/// A key of the member `m` of `S` (e.g. `limits.requests_per_minute` lands
/// in `deployment_limits::rate`).
template <class S, class M>
key_reader<S> in(M S::*m, key_reader<M> inner) {
  return [m, inner = std::move(inner)](reader& rd, const json& v,
                                       const std::string& p, S& out) {
    return inner(rd, v, p, out.*m);
  };
}

} // namespace switchyard::config_detail
