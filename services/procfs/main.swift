// bulwark-procfs: thin executable; the logic lives in its library under Sources/. ServiceKit handles
// options, capability drop, the seccomp allowlist and the request loop (Ping is built in).
import HostOS
import ProcfsServer
import ServiceKit

ServiceMain.run(ServiceDefinition(
    name: "bulwark-procfs",
    summary: "renders /proc and /sys for the Sentry",
    // Host syscalls beyond ServiceKit's base policy: none. Every request carries the state it shows,
    // so the service opens no file and makes no syscall besides its channel and the allocator.
    policy: SeccompPolicy(name: "procfs", rules: ProcfsService.policyRules),
    makeHandlers: { _ in ProcfsService.handlers() }))
