// switchyard-embed CONFIG PROMPT [ROUTE]: sends one prompt through an
// embedded Switchyard engine and prints the answer and its attempt trail.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <switchyard/engine.hpp>
#include <vector>

namespace {

/// Prints one line per attempt: where it went and how it ended.
void print_trail(std::ostream& out,
                 const std::vector<switchyard::attempt_record>& attempts) {
  for (const auto& a : attempts) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(a.latency);
    out << "attempt: " << a.deployment << " (" << a.provider << "/" << a.model
        << ") status=" << a.status << " latency=" << ms.count() << "ms";
    if (a.cls)
      out << " class=" << switchyard::to_string(*a.cls);
    if (!a.reason.empty())
      out << " reason=\"" << a.reason << "\"";
    out << '\n';
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: " << argv[0] << " CONFIG PROMPT [ROUTE]\n";
    return 2;
  }
  int rc = 0;
  {
    auto eng = switchyard::engine::from_file(argv[1]);
    if (!eng) {
      std::cerr << argv[1] << ": " << eng.error() << '\n';
      return 2;
    }
    switchyard::chat_request req;
    switchyard::message msg;
    msg.from = switchyard::role::user;
    msg.text = argv[2];
    req.messages.push_back(std::move(msg));
    switchyard::call_options opts;
    if (argc == 4)
      opts.route = argv[3];
    // The engine ends every call by its deadline: get() cannot hang.
    auto result = (*eng)->complete(std::move(req), std::move(opts)).get();
    if (result) {
      std::cout << result->text << '\n'
                << "answered-by: " << result->provider << '/' << result->model
                << '\n';
      print_trail(std::cout, result->attempts);
    } else {
      const auto& err = result.error();
      std::cerr << "call failed: " << switchyard::to_string(err.failure)
                << '\n';
      print_trail(std::cerr, err.attempts);
      rc = 1;
    }
    (*eng)->shutdown();
  }
  return rc;
}
