// Run control for every command: the stop flag that SIGINT and SIGTERM set,
// read by each command's loop between batches.
#pragma once

namespace tcpfsm {

// SIGINT/SIGTERM request a stop (no SA_RESTART: a blocked poll returns at
// once); SIGPIPE is ignored, so a closed pipe ends the run through EPIPE.
void install_signal_handlers();
void request_stop();
bool stop_requested();

}  // namespace tcpfsm
