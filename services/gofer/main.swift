// bulwark-gofer: thin executable; the logic lives in its library under Sources/. ServiceKit handles
// options, capability drop, the seccomp allowlist and the request loop (Ping is built in).
import HostOS
import ServiceKit

ServiceMain.run(ServiceDefinition(
    name: "bulwark-gofer",
    summary: "serves the container's files to the Sentry",
    // Host syscalls beyond ServiceKit's base policy, each with its reason. None yet: the only
    // request served so far is Ping.
    policy: SeccompPolicy(name: "gofer", rules: [])))
