// bulwark-sentry: thin executable; the logic lives in SentryKernel (SentryCommand).
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import SentryKernel

let status = SentryCommand.main(CommandLine.arguments)
// _exit: stub processes die with us (PTRACE_O_EXITKILL / PDEATHSIG); skip atexit work in other threads.
_exit(status)
