// Basic auth for the exporter, checked the way exporter-toolkit checks it:
// bcrypt hashes verified with libxcrypt's crypt_r, compared in constant
// time, one verification at a time, successes cached.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

struct crypt_data;  // <crypt.h>

namespace tcpfsm {

// Verified credentials kept, at most (exporter-toolkit keeps 100 too):
// Prometheus sends the same user and password every scrape.
inline constexpr size_t kAuthCacheEntries = 100;

struct BasicAuthCounters {
  uint64_t cache_dropped = 0;  // verified credentials evicted from the full cache
  uint64_t rejected = 0;       // requests answered 401
  uint64_t cache_hits = 0;     // requests let in without a bcrypt check
};

class BasicAuth {
 public:
  // `users`: user -> bcrypt hash; empty: every request passes.
  explicit BasicAuth(std::map<std::string, std::string> users, size_t cache_entries = kAuthCacheEntries);
  ~BasicAuth();
  bool enabled() const { return !users_.empty(); }
  // The request's Authorization header ("" if none): whether it names a
  // user and that user's password. Counts the refusals.
  bool allows(std::string_view authorization);
  BasicAuthCounters counters() const;

 private:
  using Key = std::array<unsigned char, 32>;
  bool verify(const std::string& user, const std::string& password);

  std::map<std::string, std::string> users_;
  std::string decoy_hash_;  // checked for unknown users, so timing does not tell them
  size_t capacity_;
  std::mutex cache_mu_;
  std::set<Key> cache_;
  std::deque<Key> order_;  // oldest first: the one dropped when full
  // bcrypt costs milliseconds of CPU by design: one check at a time, so a
  // flood of bad passwords takes one core, not all of them.
  std::mutex crypt_mu_;
  std::unique_ptr<crypt_data> crypt_;  // crypt_r's 32 KiB of state, used under crypt_mu_
  std::atomic<uint64_t> dropped_{0}, rejected_{0}, hits_{0};
};

}  // namespace tcpfsm
