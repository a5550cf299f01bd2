// Errors are values until main: a Result carries either a value or an Error
// that says what went wrong, in one line, and whether the user (usage) or
// the system (runtime) is to blame.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace tcpfsm {

struct Error {
  enum class Kind { Usage, Runtime };
  Kind kind = Kind::Runtime;
  std::string message;  // one line, says what is wrong and what to do
  int err = 0;          // errno, when one applies

  static Error usage(std::string msg) { return {Kind::Usage, std::move(msg), 0}; }
  static Error runtime(std::string msg, int errnum = 0) { return {Kind::Runtime, std::move(msg), errnum}; }
  int exit_status() const { return kind == Kind::Usage ? 2 : 1; }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

// strerror's text for an errno, thread-safe.
inline std::string errno_text(int err) { return std::system_category().message(err); }

// For operations that produce nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

}  // namespace tcpfsm
