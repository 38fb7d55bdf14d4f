// bulwark-gofer: thin executable; the logic lives in GoferServer. ServiceKit handles options,
// capability drop, the seccomp allowlist and the request loop (Ping is built in).
import GoferServer
import HostOS
import ServiceKit

ServiceMain.run(ServiceDefinition(
    name: "bulwark-gofer",
    summary: "serves the container's files to the Sentry (the only process that opens them)",
    options: GoferConfiguration.options,
    policy: GoferPolicy.policy,
    // No capabilities: the gofer acts on files with its own uid. See docs/ARCHITECTURE.md "Gofer".
    keptCapabilities: [],
    makeHandlers: { options in
        try GoferServer(try GoferConfiguration.parse(options.values)).handlers()
    }))
