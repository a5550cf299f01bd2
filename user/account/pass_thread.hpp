// PassThread: runs a pass (a dump and what is computed from it) every
// period on a thread of its own, keeping the newest result and the last
// error, so the consumer thread never waits for a dump or a /proc scan:
// the stuck-socket section (LeakReport) and the group gauges (GroupGauges).
#pragma once

#include <malloc.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace tcpfsm {

template <typename T>
class PassThread {
 public:
  using Pass = std::function<Result<T>()>;

  PassThread(Pass pass, std::chrono::milliseconds period) : pass_(std::move(pass)), period_(period) {
    thread_ = std::thread([this] { run(); });
  }
  ~PassThread() {  // stops and joins
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  PassThread(const PassThread&) = delete;
  PassThread& operator=(const PassThread&) = delete;

  struct Snapshot {
    std::shared_ptr<const T> latest;  // the newest result; null until a pass succeeded
    uint64_t latest_ns = 0;           // CLOCK_MONOTONIC time of that pass
    std::optional<Error> error;       // the last pass failed with this (latest is older)
    uint64_t failures = 0;            // passes that failed so far
  };
  Snapshot snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return snap_;
  }
  // Runs a pass now rather than at the end of the period, and waits (up to
  // `timeout`) for it to finish: a final report measures the end state.
  void pass_now(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t want = passes_ + (running_ ? 2 : 1);  // the one under way started before this call
    now_ = true;
    cv_.notify_all();
    done_.wait_for(lock, timeout, [&] { return passes_ >= want || stop_; });
  }

 private:
  void run() {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        running_ = true;
        now_ = false;
      }
      auto result = pass_();
      const uint64_t now = monotonic_ns();
      // Freed dump buffers (this pass's and the consumer's reconciliation's)
      // go back to the system; trimming here keeps that off the consumer thread.
      malloc_trim(0);
      std::unique_lock<std::mutex> lock(mu_);
      if (result) {
        snap_.latest = std::make_shared<const T>(std::move(result.value()));
        snap_.latest_ns = now;
        snap_.error.reset();
      } else {
        snap_.error = result.error();
        ++snap_.failures;
      }
      running_ = false;
      ++passes_;
      done_.notify_all();
      if (cv_.wait_for(lock, period_, [this] { return stop_ || now_; }) && stop_) return;
    }
  }

  Pass pass_;
  std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  std::condition_variable cv_, done_;
  bool stop_ = false;
  bool now_ = false;      // pass_now() asked for a pass
  bool running_ = false;  // a pass is under way
  uint64_t passes_ = 0;   // passes finished
  Snapshot snap_;
  std::thread thread_;
};

}  // namespace tcpfsm
