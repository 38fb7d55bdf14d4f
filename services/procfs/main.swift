// bulwark-procfs: thin executable; the logic lives in its library under Sources/. ServiceKit handles
// options, capability drop, the seccomp allowlist and the request loop (Ping is built in).
import HostOS
import ServiceKit

ServiceMain.run(ServiceDefinition(
    name: "bulwark-procfs",
    summary: "renders /proc and /sys for the Sentry",
    // Host syscalls beyond ServiceKit's base policy, each with its reason. None yet: the only
    // request served so far is Ping.
    policy: SeccompPolicy(name: "procfs", rules: [])))
