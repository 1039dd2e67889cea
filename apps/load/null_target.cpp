#include "target.hpp"

#include <condition_variable>
#include <mutex>
#include <queue>
#include <thread>

namespace switchyard::load {

namespace {

/// Answers each request `delay` after it was sent, from one timer thread:
/// the cheapest upstream there is, for measuring the driver alone.
class null_target final : public target {
public:
  explicit null_target(timespan delay) : delay_(delay) {
    thread_ = std::thread{[this] { loop(); }};
  }

  ~null_target() override {
    stop();
  }

  void send(uint64_t, const std::string&, result_callback done) override {
    std::lock_guard guard{mtx_};
    due_.push({clock_type::now() + delay_, seq_++, std::move(done)});
    cv_.notify_one();
  }

  void stop() override {
    {
      std::lock_guard guard{mtx_};
      if (stopping_)
        return;
      stopping_ = true;
      cv_.notify_one();
    }
    thread_.join();
  }

private:
  struct entry {
    time_point at;
    uint64_t seq;
    result_callback done;
    bool operator>(const entry& other) const {
      return at != other.at ? at > other.at : seq > other.seq;
    }
  };

  void loop() {
    std::unique_lock lock{mtx_};
    while (!stopping_) {
      if (due_.empty()) {
        cv_.wait(lock);
        continue;
      }
      if (due_.top().at > clock_type::now()) {
        cv_.wait_until(lock, due_.top().at);
        continue;
      }
      auto done = std::move(const_cast<entry&>(due_.top()).done);
      due_.pop();
      lock.unlock();
      request_result res;
      res.ok = true;
      res.deployment = "null";
      done(std::move(res));
      lock.lock();
    }
  }

  timespan delay_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::priority_queue<entry, std::vector<entry>, std::greater<>> due_;
  uint64_t seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace

std::unique_ptr<target> make_null_target(timespan delay) {
  return std::make_unique<null_target>(delay);
}

} // namespace switchyard::load
