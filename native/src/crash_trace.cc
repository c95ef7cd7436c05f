// A diagnostic for crashes inside native code (the addon, the CUDA driver, cublasLt, NVRTC): with
// BMINF_CRASH_TRACE=1 in the environment, a SIGSEGV, SIGBUS, SIGILL or SIGFPE prints the faulting
// address and the native stack (module(+offset) frames: `addr2line -e <module> <offset>` names the
// addon's), then the signal takes its default action. Off by default: V8 handles SIGSEGV itself for
// WebAssembly's bounds checks, and this handler would take that over.
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace bminf {
namespace {

void OnCrash(int sig, siginfo_t* info, void*) {
  char line[160];
  const int n = std::snprintf(line, sizeof line, "\nbminf: native crash: signal %d (%s) at address %p; native stack:\n", sig,
                              strsignal(sig), info ? info->si_addr : nullptr);
  if (n > 0) (void)!write(STDERR_FILENO, line, static_cast<size_t>(n));
  void* frames[64];
  const int depth = backtrace(frames, 64);
  backtrace_symbols_fd(frames, depth, STDERR_FILENO);
  // SA_RESETHAND restored the default action: returning re-runs the faulting instruction, which now
  // ends the process as the signal would have.
}

}  // namespace

void InstallCrashTrace() {
  const char* on = std::getenv("BMINF_CRASH_TRACE");
  if (!on || std::strcmp(on, "1") != 0) return;
  static char altStack[1 << 16];  // the handler still runs after a stack overflow
  stack_t ss{};
  ss.ss_sp = altStack;
  ss.ss_size = sizeof altStack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa{};
  sa.sa_sigaction = OnCrash;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE}) sigaction(sig, &sa, nullptr);
  void* warm[1];
  backtrace(warm, 1);  // loads libgcc's unwinder now, not inside the handler
}

}  // namespace bminf
