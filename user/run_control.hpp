// Shared by the commands: the stop flag set from signal handlers.
#pragma once

namespace tcpfsm {

bool stop_requested();

}  // namespace tcpfsm
