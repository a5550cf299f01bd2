// Output: buffered writes to a file descriptor, flushed once per batch.
#pragma once

#include <string>

namespace tcpfsm {

class Output {
 public:
  explicit Output(int fd);
  std::string& buffer() { return buf_; }
  // Writes out the buffer; false once the reader has gone (EPIPE).
  bool flush();
  bool closed() const { return closed_; }
  // Before a report: with `repeating` reports on a terminal, the screen is
  // cleared so the report redraws in place; otherwise reports after the
  // first are set apart by a blank line.
  void start_report(bool repeating, bool first);

 private:
  int fd_;
  bool tty_;
  bool closed_ = false;
  std::string buf_;
};

}  // namespace tcpfsm
