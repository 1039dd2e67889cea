#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace switchyard {

/// Wraps an error value so that `expected` can tell it from a value.
template <class E>
struct unexpected {
  E error;
};

template <class E>
unexpected(E) -> unexpected<E>;

/// A value or the reason there is none. Library code returns this instead of
/// throwing (C++20 has no std::expected).
template <class T, class E = std::string>
class expected {
public:
  // -- constructors ----------------------------------------------------------

  expected(T value) : data_(std::in_place_index<0>, std::move(value)) {
    // nop
  }

  template <class U>
  expected(unexpected<U> err)
      : data_(std::in_place_index<1>, E(std::move(err.error))) {
    // nop
  }

  // -- observers -------------------------------------------------------------

  bool has_value() const noexcept {
    return data_.index() == 0;
  }

  explicit operator bool() const noexcept {
    return has_value();
  }

  T& value() & {
    assert(has_value());
    return std::get<0>(data_);
  }

  const T& value() const& {
    assert(has_value());
    return std::get<0>(data_);
  }

  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(data_));
  }

  T& operator*() & {
    return value();
  }

  const T& operator*() const& {
    return value();
  }

  T* operator->() {
    return &value();
  }

  const T* operator->() const {
    return &value();
  }

  E& error() & {
    assert(!has_value());
    return std::get<1>(data_);
  }

  const E& error() const& {
    assert(!has_value());
    return std::get<1>(data_);
  }

private:
  std::variant<T, E> data_;
};

} // namespace switchyard
