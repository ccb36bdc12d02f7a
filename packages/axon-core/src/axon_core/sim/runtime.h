// The cuda-sim fiber runtime: runs a CUDA grid on the CPU.
//
// Every CUDA thread is a fiber with its own stack; a worker OS thread takes whole blocks, one at
// a time, and runs the fibers of its block cooperatively: a fiber runs until it reaches a
// barrier, a warp-level op or its end, then the block scheduler resumes the next runnable fiber.
// Because a worker runs one block at a time, `__shared__` variables are thread_local statics.
// Barriers count live threads (an exited thread no longer holds a barrier back, as on hardware);
// a sweep over the block that resumes nobody while threads still wait is a deadlock, reported
// with the block index. Faults and timeouts arrive as signals (see signals.cpp) and abandon the
// block. The context switch is hand-written x86-64 assembly: ucontext costs a syscall per switch.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "signals.h"

#if !defined(__x86_64__)
#error "the cuda-sim fiber runtime is written for x86-64"
#endif

struct uint3 {
    unsigned int x, y, z;
};

struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

extern "C" {
void axon_sim_switch(void** save_sp, void* load_sp);
void axon_sim_fiber_trampoline();
}

// save_sp <- current stack (after pushing the callee-saved registers); then continue on load_sp,
// popping what the other side pushed. MXCSR and the x87 control word are not switched: every
// fiber of a worker runs with the worker's (default) floating-point environment, and ldmxcsr/fldcw
// would double the cost of a switch. A new fiber's stack is
// laid out by Block::start so that the first switch "returns" into the trampoline.
asm(R"(
    .text
    .p2align 4
    .globl axon_sim_switch
    .hidden axon_sim_switch
    .type axon_sim_switch, @function
axon_sim_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size axon_sim_switch, .-axon_sim_switch

    .p2align 4
    .globl axon_sim_fiber_trampoline
    .hidden axon_sim_fiber_trampoline
    .type axon_sim_fiber_trampoline, @function
axon_sim_fiber_trampoline:
    movq %rbx, %rdi
    andq $-16, %rsp
    call axon_sim_fiber_main
    ud2
    .size axon_sim_fiber_trampoline, .-axon_sim_fiber_trampoline
)");

namespace axon_sim {

constexpr int kWarpSize = 32;
constexpr int kMaxThreadsPerBlock = 1024;

enum Status : int32_t {
    kOk = 0,
    kDeadlock = 1,
    kFault = 2,
    kTimeout = 3,
    kBadLaunch = 4,
    kTrap = 5,
};

enum FiberState : int32_t { kRunnable, kAtBarrier, kAtWarpOp, kExited };

// What Python passes in (ctypes mirrors this layout in launcher.py).
struct LaunchParams {
    uint32_t grid[3];
    uint32_t block[3];
    uint64_t shared_mem;
    int32_t workers;
    int32_t reverse_order;   // resume fibers from the last thread down: exposes other races
    int32_t poison_shared;   // fill dynamic shared memory with 0xff bytes (NaN) per block
    int32_t timeout_signal;
    double timeout_s;
    uint64_t stack_size;
    void (*set_signal_state)(SignalState*);
};

struct LaunchResult {
    int32_t status;
    uint32_t block[3];
    uint32_t thread[3];
    int32_t signal;
    int32_t fault_write;
    uint64_t fault_addr;
    char message[1024];
};

struct Block;
struct Worker;
struct Launch;

struct Fiber {
    void* sp;
    uint3 tid;
    int32_t state;
    uint32_t lane;
    uint32_t warp;
    uint32_t warp_mask;     // the mask of the warp op this fiber waits in
    uint32_t warp_ops;      // warp ops done so far: picks the double-buffered exchange slot
    uint32_t barriers;      // block barriers passed so far: picks the predicate-count slot
    Block* block;
};

struct Warp {
    uint32_t live;          // lanes that exist and have not exited
    uint32_t arrived;       // lanes waiting in a warp op
    uint32_t present[2];    // the lanes that took part in the last op of each slot
    uint64_t slot[2][kWarpSize];
};

struct Block {
    Fiber* fibers;
    Warp* warps;
    Worker* worker;
    const std::atomic<bool>* abort;
    int32_t threads;
    int32_t live;
    int32_t arrived;
    int32_t reverse_order;
    int32_t predicate_count[2];
    void (*invoke)(void* fn, void** args);
    void* fn;
    void** args;
};

struct Worker {
    SignalState signals;    // first member: on_signal recovers the Worker from it
    void* sched_sp;
    Fiber* faulted;
    int32_t fault_signal;
    int32_t fault_write;
    uint64_t fault_addr;
    bool trapped;
    char trap_message[512];
    unsigned char* dynamic_shared;
    uint3 block_idx;
    bool poison_shared;
    uint64_t block_serial;          // blocks run by this worker so far
    struct Fresh {
        const void* address;
        uint64_t block_serial;
    } fresh[64];                    // static __shared__ variables and the block that last poisoned them
    int fresh_count;
};

inline thread_local Fiber* t_fiber = nullptr;
inline thread_local Worker* t_worker = nullptr;
inline thread_local dim3 t_block_dim;
inline thread_local dim3 t_grid_dim;

// The next runnable fiber after `f`: first the rest of f's warp (so a warp runs ahead through its
// shuffles while its stacks are hot in cache), then the following warps, wrapping around. Null
// when nobody can run (block done, deadlock) or the launch is aborting: then the scheduler decides.
inline Fiber* pick_next(Block* b, Fiber* f) {
    if (b->abort->load(std::memory_order_relaxed)) return nullptr;
    const int n = b->threads;
    const int index = static_cast<int>(f - b->fibers);
    const int warp_base = index & ~(kWarpSize - 1);
    const int warp_len = n - warp_base < kWarpSize ? n - warp_base : kWarpSize;
    const int lane = index - warp_base;
    const int step = b->reverse_order ? -1 : 1;
    for (int k = 1, l = lane; k < warp_len; ++k) {
        l += step;
        l = l == warp_len ? 0 : (l < 0 ? warp_len - 1 : l);
        Fiber* g = &b->fibers[warp_base + l];
        if (g->state == kRunnable) return g;
    }
    const int warps = (n + kWarpSize - 1) / kWarpSize;
    for (int k = 1, w = warp_base / kWarpSize; k < warps; ++k) {
        w += step;
        w = w == warps ? 0 : (w < 0 ? warps - 1 : w);
        int base = w * kWarpSize;
        int len = n - base < kWarpSize ? n - base : kWarpSize;
        for (int j = 0; j < len; ++j) {
            Fiber* g = &b->fibers[base + (b->reverse_order ? len - 1 - j : j)];
            if (g->state == kRunnable) return g;
        }
    }
    return nullptr;
}

// A fiber that cannot go on (waiting or exited) hands the worker to the next runnable fiber, or
// back to the block scheduler. Returns when another fiber switches back to this one.
inline void switch_away(Fiber* f, void** save_sp) {
    Block* b = f->block;
    Fiber* next = pick_next(b, f);
    if (next != nullptr) {
        // The fiber after `next` is most likely the one to run after it: start loading its frame.
        Fiber* after = next + (b->reverse_order ? -1 : 1);
        if (after >= b->fibers && after < b->fibers + b->threads) __builtin_prefetch(after->sp);
        t_fiber = next;
        axon_sim_switch(save_sp, next->sp);
    } else {
        axon_sim_switch(save_sp, b->worker->sched_sp);
    }
}

inline void release_barrier(Block* b) {
    for (int i = 0; i < b->threads; ++i)
        if (b->fibers[i].state == kAtBarrier) b->fibers[i].state = kRunnable;
    b->arrived = 0;
}

// __syncthreads: waits until every live thread of the block has arrived.
inline int block_barrier(int predicate) {
    Fiber* f = t_fiber;
    Block* b = f->block;
    int slot = f->barriers & 1;
    b->predicate_count[slot] += predicate ? 1 : 0;
    if (++b->arrived == b->live) {
        release_barrier(b);
        // Everyone has read the previous slot (they all arrived here): clear it for the next one.
        b->predicate_count[slot ^ 1] = 0;
    } else {
        f->state = kAtBarrier;
        switch_away(f, &f->sp);
    }
    ++f->barriers;
    return b->predicate_count[slot];
}

// Releases the lanes of one warp op when every live lane of its mask has arrived.
inline bool try_release_warp(Warp& w, Block* b, uint32_t warp_index, uint32_t mask, uint32_t parity) {
    uint32_t needed = mask & w.live;
    if ((w.arrived & needed) != needed) return false;
    w.present[parity] = needed;
    Fiber* lanes = b->fibers + warp_index * kWarpSize;
    for (uint32_t bits = needed; bits; bits &= bits - 1) {
        int lane = __builtin_ctz(bits);
        if (lanes[lane].state == kAtWarpOp) lanes[lane].state = kRunnable;
    }
    w.arrived &= ~needed;
    return true;
}

// The common shape of every warp-level op: publish a 64-bit value, wait for the lanes of `mask`,
// then read any lane's published value. Slots alternate so a fast lane's next op cannot
// overwrite a value a slow lane has not read yet.
struct WarpExchange {
    Fiber* f;
    Warp* w;
    uint64_t* slot;
    uint32_t present;       // lanes whose slot holds a value of this op
};

inline WarpExchange warp_exchange(uint32_t mask, uint64_t value) {
    Fiber* f = t_fiber;
    Block* b = f->block;
    Warp& w = b->warps[f->warp];
    uint64_t* slot = w.slot[f->warp_ops & 1];
    slot[f->lane] = value;
    w.arrived |= 1u << f->lane;
    f->warp_mask = mask | (1u << f->lane);
    const uint32_t parity = f->warp_ops & 1;
    if (!try_release_warp(w, b, f->warp, f->warp_mask, parity)) {
        f->state = kAtWarpOp;
        switch_away(f, &f->sp);
    }
    ++f->warp_ops;
    // Lanes that took part may exit before this one reads: their values stay readable.
    return WarpExchange{f, &w, slot, w.present[parity]};
}

template <class T>
inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp shuffles move at most 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return bits;
}

template <class T>
inline T from_bits(uint64_t bits) {
    T v;
    std::memcpy(&v, &bits, sizeof(T));
    return v;
}

// Reads lane `src` of the exchange. A lane that does not exist, has exited or is not in the mask
// holds no value on the GPU either: reading it gives all-ones bits (NaN, -1), so a kernel that
// uses such a value computes a visibly wrong answer instead of a plausible one.
template <class T>
inline T shuffle_read(const WarpExchange& x, int src) {
    if (src < 0 || src >= kWarpSize || !(x.present & (1u << src))) return from_bits<T>(~uint64_t(0));
    return from_bits<T>(x.slot[src]);
}

inline uint32_t warp_ballot(uint32_t mask, int predicate) {
    WarpExchange x = warp_exchange(mask, predicate ? 1 : 0);
    uint32_t bits = 0;
    for (uint32_t m = x.present; m; m &= m - 1) {
        int lane = __builtin_ctz(m);
        if (x.slot[lane]) bits |= 1u << lane;
    }
    return bits;
}

inline void trap(const char* what) {
    Fiber* f = t_fiber;
    Worker* w = f->block->worker;
    w->trapped = true;
    std::snprintf(w->trap_message, sizeof(w->trap_message), "%s", what);
    w->faulted = f;
    f->state = kExited;
    axon_sim_switch(&f->sp, w->sched_sp);
    __builtin_unreachable();
}

inline void* dynamic_shared() { return t_fiber->block->worker->dynamic_shared; }

// Reached by every thread at a static __shared__ declaration (see rewrite.mark_static_shared):
// in debug launches the first thread of each block to get there fills the variable with 0xff.
inline void fresh_shared(const void* address, size_t bytes) {
    Worker* w = t_fiber->block->worker;
    if (!w->poison_shared) return;
    for (int i = 0; i < w->fresh_count; ++i) {
        if (w->fresh[i].address == address) {
            if (w->fresh[i].block_serial == w->block_serial) return;
            w->fresh[i].block_serial = w->block_serial;
            std::memset(const_cast<void*>(address), 0xff, bytes);
            return;
        }
    }
    if (w->fresh_count < 64) w->fresh[w->fresh_count++] = Worker::Fresh{address, w->block_serial};
    std::memset(const_cast<void*>(address), 0xff, bytes);
}

[[noreturn]] inline void fiber_exit(Fiber* f) {
    Block* b = f->block;
    f->state = kExited;
    --b->live;
    Warp& w = b->warps[f->warp];
    w.live &= ~(1u << f->lane);
    w.arrived &= ~(1u << f->lane);
    if (b->arrived > 0 && b->arrived == b->live) release_barrier(b);
    // Lanes waiting for this one in a warp op may now be complete.
    Fiber* lanes = b->fibers + f->warp * kWarpSize;
    for (uint32_t bits = w.arrived; bits; bits &= bits - 1) {
        int lane = __builtin_ctz(bits);
        if (lanes[lane].state == kAtWarpOp)
            try_release_warp(w, b, f->warp, lanes[lane].warp_mask, lanes[lane].warp_ops & 1);
    }
    void* dead_sp;
    switch_away(f, &dead_sp);
    __builtin_unreachable();
}

// Stacks for the fibers of one block, each with a PROT_NONE guard page below it (an overflow
// faults and is reported), kept in a pool and reused across launches: mprotect per fiber per
// launch would cost more than a small kernel.
struct StackArena {
    unsigned char* base = nullptr;
    size_t bytes = 0;
    size_t stride = 0;
    size_t count = 0;
};

inline std::mutex g_arena_mutex;
inline std::vector<StackArena> g_arenas;

inline size_t page_size() {
    static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return size;
}

inline StackArena acquire_arena(size_t count, size_t stack_size) {
    size_t page = page_size();
    // Room for the stack, the cache-line stagger of the stack tops, and a guard page.
    size_t stride = ((stack_size + 4096 + page - 1) / page + 1) * page;
    {
        std::lock_guard<std::mutex> lock(g_arena_mutex);
        for (size_t i = 0; i < g_arenas.size(); ++i) {
            const StackArena& a = g_arenas[i];
            if (a.stride == stride && a.count >= count) {
                StackArena arena = a;
                g_arenas.erase(g_arenas.begin() + static_cast<long>(i));
                return arena;
            }
        }
    }
    StackArena arena;
    arena.stride = stride;
    arena.count = count;
    arena.bytes = stride * count;
    void* mem = mmap(nullptr, arena.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) return StackArena{};
    arena.base = static_cast<unsigned char*>(mem);
    for (size_t i = 0; i < count; ++i) mprotect(arena.base + i * stride, page, PROT_NONE);
    return arena;
}

inline void release_arena(const StackArena& arena) {
    if (arena.base == nullptr) return;
    std::lock_guard<std::mutex> lock(g_arena_mutex);
    g_arenas.push_back(arena);
}

// A fault inside the arena is a stack overflow: into a guard page, or (a frame larger than a
// page that skips the guard) into the neighbouring fiber's stack.
inline bool in_stack_arena(const StackArena& arena, uint64_t addr) {
    uint64_t base = reinterpret_cast<uint64_t>(arena.base);
    return addr >= base && addr < base + arena.bytes;
}

struct Launch {
    const LaunchParams* params;
    LaunchResult* result;
    void (*invoke)(void* fn, void** args);
    void* fn;
    void** args;
    uint64_t blocks;
    std::atomic<uint64_t> next_block{0};
    std::atomic<bool> abort{false};
    std::atomic<bool> timed_out{false};
    std::mutex mutex;
    std::condition_variable done_cv;
    int running = 0;
    bool failed = false;
};

inline void format_dims(char* out, size_t n, uint3 v) { std::snprintf(out, n, "(%u, %u, %u)", v.x, v.y, v.z); }

// Records the first failure of the launch; later ones (other workers, aborted blocks) are dropped.
inline void record_failure(Launch* L, int32_t status, uint3 block, uint3 thread, const char* message, int sig = 0,
                           uint64_t addr = 0, int write = 0) {
    std::lock_guard<std::mutex> lock(L->mutex);
    if (L->failed) return;
    L->failed = true;
    LaunchResult* r = L->result;
    r->status = status;
    r->block[0] = block.x, r->block[1] = block.y, r->block[2] = block.z;
    r->thread[0] = thread.x, r->thread[1] = thread.y, r->thread[2] = thread.z;
    r->signal = sig;
    r->fault_addr = addr;
    r->fault_write = write;
    std::snprintf(r->message, sizeof(r->message), "%s", message);
}

inline void on_worker_signal(SignalState* state, int sig, siginfo_t* info, void* ucontext) {
    Worker* w = reinterpret_cast<Worker*>(state);
    w->faulted = t_fiber;
    w->fault_signal = sig;
    w->fault_addr = reinterpret_cast<uint64_t>(info->si_addr);
    const ucontext_t* uc = static_cast<const ucontext_t*>(ucontext);
    w->fault_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) ? 1 : 0;
    void* dead_sp;
    axon_sim_switch(&dead_sp, w->sched_sp);
    __builtin_unreachable();
}

inline uint3 thread_of(const Fiber* f) { return f ? f->tid : uint3{0, 0, 0}; }

inline void report_timeout(Launch* L, uint3 block, uint3 thread) {
    char where[64], message[256];
    format_dims(where, sizeof(where), block);
    std::snprintf(message, sizeof(message), "timed out after %.3g s in block %s (an endless loop?)", L->params->timeout_s,
                  where);
    record_failure(L, kTimeout, block, thread, message);
}

inline void report_deadlock(Launch* L, const Block* b, uint3 block) {
    int at_barrier = 0, at_warp = 0;
    const Fiber* first = nullptr;
    for (int i = 0; i < b->threads; ++i) {
        const Fiber& f = b->fibers[i];
        if (f.state == kAtBarrier) ++at_barrier;
        if (f.state == kAtWarpOp) ++at_warp;
        if (first == nullptr && (f.state == kAtBarrier || f.state == kAtWarpOp)) first = &f;
    }
    char where[64], message[512];
    format_dims(where, sizeof(where), block);
    std::snprintf(message, sizeof(message),
                  "deadlock in block %s: %d live thread(s), %d waiting at __syncthreads and %d in a warp-level op "
                  "(__shfl*_sync/__ballot_sync/__syncwarp) that the others never reach",
                  where, b->live, at_barrier, at_warp);
    record_failure(L, kDeadlock, block, thread_of(first), message);
}

inline void report_fault(Launch* L, const Worker* w, const StackArena& arena, uint3 block) {
    uint3 t = thread_of(w->faulted);
    char where[64], thread[64], message[1024];
    format_dims(where, sizeof(where), block);
    format_dims(thread, sizeof(thread), t);
    if (w->trapped) {
        std::snprintf(message, sizeof(message), "%s (block %s, thread %s)", w->trap_message, where, thread);
        record_failure(L, kTrap, block, t, message);
    } else if (w->fault_signal == L->params->timeout_signal) {
        report_timeout(L, block, t);
    } else {
        const char* kind = in_stack_arena(arena, w->fault_addr) ? "fiber stack overflow (raise AXON_SIM_STACK_KB)"
                           : w->fault_signal == SIGFPE         ? "arithmetic fault (integer division by zero?)"
                           : w->fault_signal == SIGILL         ? "illegal instruction"
                                                               : "invalid memory access";
        std::snprintf(message, sizeof(message), "%s at address 0x%llx in block %s, thread %s", kind,
                      static_cast<unsigned long long>(w->fault_addr), where, thread);
        record_failure(L, kFault, block, t, message, w->fault_signal, w->fault_addr, w->fault_write);
    }
}

// Runs one block to its end; returns false when it failed (the failure is recorded).
inline bool run_block(Launch* L, Worker* w, Block* b, const StackArena& arena, uint64_t block_linear) {
    const LaunchParams* p = L->params;
    uint3 bidx{static_cast<unsigned>(block_linear % p->grid[0]),
               static_cast<unsigned>((block_linear / p->grid[0]) % p->grid[1]),
               static_cast<unsigned>(block_linear / (static_cast<uint64_t>(p->grid[0]) * p->grid[1]))};
    w->block_idx = bidx;
    ++w->block_serial;
    if (p->poison_shared && p->shared_mem) std::memset(w->dynamic_shared, 0xff, p->shared_mem);
    const int n = b->threads;
    b->live = n;
    b->arrived = 0;
    b->predicate_count[0] = b->predicate_count[1] = 0;
    const int warps = (n + kWarpSize - 1) / kWarpSize;
    for (int i = 0; i < warps; ++i) {
        int lanes = n - i * kWarpSize < kWarpSize ? n - i * kWarpSize : kWarpSize;
        b->warps[i].live = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1);
        b->warps[i].arrived = 0;
    }
    for (int i = 0; i < n; ++i) {
        Fiber* f = &b->fibers[i];
        f->tid = uint3{static_cast<unsigned>(i % p->block[0]), static_cast<unsigned>((i / p->block[0]) % p->block[1]),
                       static_cast<unsigned>(i / (p->block[0] * p->block[1]))};
        f->state = kRunnable;
        f->lane = static_cast<uint32_t>(i % kWarpSize);
        f->warp = static_cast<uint32_t>(i / kWarpSize);
        f->warp_ops = 0;
        f->barriers = 0;
        f->block = b;
        // Stagger the stack tops by a cache line per fiber: at a common offset modulo 4 KiB, every
        // switch would evict the previous fiber's frame from the same L1/L2 set.
        unsigned char* top = arena.base + static_cast<size_t>(i + 1) * arena.stride - static_cast<size_t>(i % 64) * 64;
        // Initial frame popped by axon_sim_switch: r15 r14 r13 r12 rbx rbp, then the return address.
        uint64_t* sp = reinterpret_cast<uint64_t*>(top) - 8;
        sp[0] = sp[1] = sp[2] = sp[3] = 0;
        sp[4] = reinterpret_cast<uint64_t>(f);  // rbx: the trampoline's argument
        sp[5] = 0;
        sp[6] = reinterpret_cast<uint64_t>(&axon_sim_fiber_trampoline);
        sp[7] = 0;
        f->sp = sp;
    }
    w->faulted = nullptr;
    w->fault_signal = 0;
    w->trapped = false;
    for (;;) {
        Fiber* first = nullptr;
        for (int k = 0; k < n && first == nullptr; ++k) {
            Fiber* f = &b->fibers[p->reverse_order ? n - 1 - k : k];
            if (f->state == kRunnable) first = f;
        }
        if (first == nullptr) break;
        if (L->abort.load(std::memory_order_relaxed)) {
            if (L->timed_out.load()) report_timeout(L, bidx, uint3{0, 0, 0});
            return false;
        }
        // Fibers now pass the worker among themselves until none can run (see switch_away).
        t_fiber = first;
        w->signals.in_fiber = 1;
        axon_sim_switch(&w->sched_sp, first->sp);
        w->signals.in_fiber = 0;
        if (w->faulted != nullptr || w->fault_signal != 0) {
            report_fault(L, w, arena, bidx);
            L->abort.store(true);
            return false;
        }
        if (L->abort.load(std::memory_order_relaxed)) {
            if (L->timed_out.load()) report_timeout(L, bidx, uint3{0, 0, 0});
            return false;
        }
    }
    if (b->live > 0) {
        report_deadlock(L, b, bidx);
        L->abort.store(true);
        return false;
    }
    return true;
}

inline void worker_main(Launch* L) {
    const LaunchParams* p = L->params;
    Worker w{};
    w.signals.in_fiber = 0;
    w.signals.on_signal = on_worker_signal;
    w.poison_shared = p->poison_shared != 0;
    t_worker = &w;
    t_block_dim = dim3(p->block[0], p->block[1], p->block[2]);
    t_grid_dim = dim3(p->grid[0], p->grid[1], p->grid[2]);

    // An alternate signal stack so a fiber that overflows its own stack can still be reported.
    std::vector<unsigned char> alt(1 << 16);
    stack_t ss{}, old_ss{};
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    sigaltstack(&ss, &old_ss);
    p->set_signal_state(&w.signals);

    const int n = static_cast<int>(p->block[0] * p->block[1] * p->block[2]);
    std::vector<Fiber> fibers(n);
    std::vector<Warp> warps((n + kWarpSize - 1) / kWarpSize);
    std::vector<unsigned char> shared(p->shared_mem + 16);
    w.dynamic_shared = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(shared.data()) + 15) & ~uintptr_t(15));
    StackArena arena = acquire_arena(n, p->stack_size);
    if (arena.base == nullptr) {
        record_failure(L, kBadLaunch, uint3{0, 0, 0}, uint3{0, 0, 0}, "could not map fiber stacks");
        L->abort.store(true);
    } else {
        Block b{};
        b.fibers = fibers.data();
        b.warps = warps.data();
        b.worker = &w;
        b.abort = &L->abort;
        b.threads = n;
        b.reverse_order = p->reverse_order;
        b.invoke = L->invoke;
        b.fn = L->fn;
        b.args = L->args;
        while (!L->abort.load(std::memory_order_relaxed)) {
            uint64_t next = L->next_block.fetch_add(1);
            if (next >= L->blocks) break;
            if (!run_block(L, &w, &b, arena, next)) break;
        }
        // An abandoned block leaves its fibers mid-stack; nothing there needs unwinding.
        release_arena(arena);
    }
    p->set_signal_state(nullptr);
    sigaltstack(&old_ss, nullptr);
    t_worker = nullptr;
    t_fiber = nullptr;
    std::lock_guard<std::mutex> lock(L->mutex);
    --L->running;
    L->done_cv.notify_all();
}

inline int32_t launch(void (*invoke)(void*, void**), void* fn, const LaunchParams* p, void** args, LaunchResult* r) {
    std::memset(r, 0, sizeof(*r));
    Launch L;
    L.params = p;
    L.result = r;
    L.invoke = invoke;
    L.fn = fn;
    L.args = args;
    L.blocks = static_cast<uint64_t>(p->grid[0]) * p->grid[1] * p->grid[2];
    auto timeout = std::chrono::duration<double>(p->timeout_s > 0 ? p->timeout_s : 1e9);
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    uint64_t want = static_cast<uint64_t>(p->workers > 0 ? p->workers : 1);
    int workers = static_cast<int>(want < L.blocks ? want : L.blocks);
    std::vector<std::thread> threads;
    threads.reserve(workers);
    {
        std::lock_guard<std::mutex> lock(L.mutex);
        L.running = workers;
    }
    for (int i = 0; i < workers; ++i) threads.emplace_back(worker_main, &L);
    {
        // The watchdog: past the deadline, stop handing out blocks and interrupt kernel code that
        // never reaches a barrier (the signal lands in on_worker_signal via signals.cpp).
        std::unique_lock<std::mutex> lock(L.mutex);
        while (L.running > 0) {
            if (L.done_cv.wait_until(lock, deadline) == std::cv_status::timeout) {
                L.timed_out.store(true);
                L.abort.store(true);
                while (L.running > 0) {
                    for (auto& t : threads) pthread_kill(t.native_handle(), p->timeout_signal);
                    L.done_cv.wait_for(lock, std::chrono::milliseconds(50));
                }
            }
        }
        if (L.timed_out.load() && !L.failed) {
            L.failed = true;
            r->status = kTimeout;
            std::snprintf(r->message, sizeof(r->message), "timed out after %.3g s", p->timeout_s);
        }
    }
    for (auto& t : threads) t.join();
    return r->status;
}

// Calls a kernel of any signature from a cuLaunchKernel-style argument array.
template <class F>
struct Kernel;

template <class... A>
struct Kernel<void (*)(A...)> {
    using Fn = void (*)(A...);

    template <size_t... I>
    static void call(Fn fn, void** args, std::index_sequence<I...>) {
        fn(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
    }

    static void invoke(void* fn, void** args) { call(reinterpret_cast<Fn>(fn), args, std::index_sequence_for<A...>{}); }

    // One code per parameter: 'p' pointer, 'f' floating, 'i' signed, 'u' unsigned/bool, 'o' other; then its size.
    template <class T>
    static constexpr char kind() {
        using U = std::remove_cv_t<T>;
        if constexpr (std::is_pointer_v<U>) return 'p';
        else if constexpr (std::is_floating_point_v<U>) return 'f';
        else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) return 'i';
        else if constexpr (std::is_integral_v<U>) return 'u';
        else return 'o';
    }

    static int describe(char* kinds, uint32_t* sizes, int capacity) {
        constexpr int n = sizeof...(A);
        if constexpr (n > 0) {
            const char k[] = {kind<A>()...};
            const uint32_t s[] = {static_cast<uint32_t>(sizeof(A))...};
            for (int i = 0; i < n && i < capacity; ++i) kinds[i] = k[i], sizes[i] = s[i];
        }
        return n;
    }
};

}  // namespace axon_sim

extern "C" __attribute__((visibility("hidden"), used)) void axon_sim_fiber_main(axon_sim::Fiber* f) {
    axon_sim::Block* b = f->block;
    b->invoke(b->fn, b->args);
    axon_sim::fiber_exit(f);
}

// Appended after the kernel source, once per kernel: the entry points launcher.py looks up.
#define AXON_SIM_EXPORT(name)                                                                                    \
    extern "C" __attribute__((visibility("default"))) int axon_sim_launch_##name(                               \
        const axon_sim::LaunchParams* p, void** args, axon_sim::LaunchResult* r) {                              \
        using K = axon_sim::Kernel<decltype(&name)>;                                                             \
        return axon_sim::launch(&K::invoke, reinterpret_cast<void*>(&name), p, args, r);                        \
    }                                                                                                            \
    extern "C" __attribute__((visibility("default"))) int axon_sim_describe_##name(char* kinds, uint32_t* sizes, \
                                                                                   int capacity) {               \
        return axon_sim::Kernel<decltype(&name)>::describe(kinds, sizes, capacity);                             \
    }
