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
    // As runsc's gofer: CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID (when
    // it has them, i.e. started as root), so the sandbox's root can chown and read files of other
    // uids; the Sentry checks permissions for the application's users itself, and confinement is
    // openat2's (capabilities do not widen RESOLVE_BENEATH). See docs/ARCHITECTURE.md "Gofer".
    keptCapabilities: [0, 1, 2, 3, 4].filter { Capabilities.isPermitted($0) },
    makeHandlers: { options in
        try GoferServer(try GoferConfiguration.parse(options.values)).handlers()
    }))
