// Output: buffered writes to a file descriptor, flushed once per batch.
#pragma once

#include <string>

namespace tcpfsm {

class Output {
 public:
  explicit Output(int fd) : fd_(fd) { buf_.reserve(1 << 16); }
  std::string& buffer() { return buf_; }
  // Writes out the buffer; false once the reader has gone (EPIPE).
  bool flush();
  bool closed() const { return closed_; }

 private:
  int fd_;
  bool closed_ = false;
  std::string buf_;
};

}  // namespace tcpfsm
