// Output::flush: write everything, stop for good once the reader is gone.
#include "base/output.hpp"

#include <unistd.h>

#include <cerrno>

namespace tcpfsm {

Output::Output(int fd) : fd_(fd), tty_(isatty(fd)) { buf_.reserve(1 << 16); }

void Output::start_report(bool repeating, bool first) {
  if (tty_ && repeating) {
    buf_ += "\x1b[H\x1b[2J";
  } else if (!first) {
    buf_ += '\n';
  }
}

bool Output::flush() {
  size_t off = 0;
  while (!closed_ && off < buf_.size()) {
    ssize_t n = write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      closed_ = true;  // EPIPE and friends: nobody is reading any more
      break;
    }
    off += static_cast<size_t>(n);
  }
  buf_.clear();
  return !closed_;
}

}  // namespace tcpfsm
