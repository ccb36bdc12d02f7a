// The contract between the signal host library (signals.cpp, one per process) and the worker
// threads of every kernel library: a worker publishes a SignalState for its thread, and a fault
// or a timeout signal that lands while a fiber runs is handed to that worker to abandon the block.
#pragma once
#include <signal.h>

namespace axon_sim {

struct SignalState {
    // Nonzero while a fiber (kernel code) runs on this thread; only then is a signal ours.
    volatile sig_atomic_t in_fiber;
    // Called on the alternate signal stack; never returns (it switches to the block scheduler).
    void (*on_signal)(SignalState* state, int sig, siginfo_t* info, void* ucontext);
};

}  // namespace axon_sim
