#pragma once

// One line to stderr about persisted or shared state (snapshots, Redis):
// rare events an operator must see even when the embedder has no event sink.

#include <cstdio>
#include <string>

namespace switchyard {

inline void state_log(const std::string& line) {
  std::fprintf(stderr, "switchyard: state: %s\n", line.c_str());
}

} // namespace switchyard
