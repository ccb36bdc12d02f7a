// The one SIGSEGV/SIGBUS/SIGFPE/SIGILL/timeout handler of the process. Kernel libraries are
// loaded privately (each has its own copy of the fiber runtime), so the handler lives here, once,
// and chains to whatever handler was there before (Python's faulthandler, for example) for every
// signal that did not come from a fiber.
#include "signals.h"

#include <string.h>

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
constexpr int kSignalCount = sizeof(kSignals) / sizeof(kSignals[0]);

struct sigaction g_previous[kSignalCount + 1];
int g_timeout_signal = 0;
thread_local axon_sim::SignalState* t_state = nullptr;

int slot_of(int sig) {
    for (int i = 0; i < kSignalCount; ++i)
        if (kSignals[i] == sig) return i;
    return kSignalCount;
}

void on_signal(int sig, siginfo_t* info, void* ucontext) {
    axon_sim::SignalState* state = t_state;
    if (state != nullptr && state->in_fiber) {
        state->in_fiber = 0;
        state->on_signal(state, sig, info, ucontext);
    }
    if (sig == g_timeout_signal) return;  // a late timeout signal outside kernel code: nothing to stop
    const struct sigaction& previous = g_previous[slot_of(sig)];
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction != nullptr) previous.sa_sigaction(sig, info, ucontext);
        return;
    }
    if (previous.sa_handler == SIG_IGN) return;
    if (previous.sa_handler == SIG_DFL) {
        // Restore the default action and return: the faulting instruction runs again and the
        // process dies the way it would have without us.
        signal(sig, SIG_DFL);
        return;
    }
    previous.sa_handler(sig);
}

void install_one(int sig, struct sigaction* previous) {
    struct sigaction current;
    sigaction(sig, nullptr, &current);
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_signal) return;
    struct sigaction ours;
    memset(&ours, 0, sizeof(ours));
    ours.sa_sigaction = on_signal;
    sigemptyset(&ours.sa_mask);
    // SA_NODEFER: the handler leaves by a context switch, never by returning, so the signal must
    // not stay blocked afterwards. SA_ONSTACK: a fiber that overflows its stack still gets handled.
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(sig, &ours, previous);
}

}  // namespace

extern "C" {

// Installs the handlers (again, if someone replaced them since). Returns the timeout signal.
__attribute__((visibility("default"))) int axon_sim_install_handlers() {
    for (int i = 0; i < kSignalCount; ++i) install_one(kSignals[i], &g_previous[i]);
    if (g_timeout_signal == 0) g_timeout_signal = SIGRTMIN + 4;
    install_one(g_timeout_signal, &g_previous[kSignalCount]);
    return g_timeout_signal;
}

__attribute__((visibility("default"))) void axon_sim_set_signal_state(axon_sim::SignalState* state) {
    t_state = state;
}

}
