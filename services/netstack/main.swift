// bulwark-netstack: thin executable; the logic lives in NetstackServer. ServiceKit handles options,
// capability drop, the seccomp allowlist and the request loop (Ping is built in).
import HostOS
import NetstackServer
import ServiceKit

/// `--network host` backs sockets with host sockets (HostSockets.swift): only then does the allowlist
/// gain the socket calls, decided before ServiceKit parses options because the policy is fixed here.
let hostMode = zip(CommandLine.arguments, CommandLine.arguments.dropFirst()).contains { $0 == "--network" && $1 == "host" }
let hostRules: [SeccompRule] = !hostMode ? [] : [
    SeccompRule("socket", "--network host: a host socket per application socket"),
    SeccompRule("bind", "--network host: the application's bind"),
    SeccompRule("listen", "--network host: the application's listen"),
    SeccompRule("accept", "--network host: the application's accept"),
    SeccompRule("connect", "--network host: the application's connect"),
    SeccompRule("getsockname", "--network host: getsockname"),
    SeccompRule("getpeername", "--network host: getpeername"),
    SeccompRule("getsockopt", "--network host: SO_ERROR of a connecting socket"),
    SeccompRule("setsockopt", "--network host: the application's options at every level (TCP_NODELAY, IP_TOS, IPV6_V6ONLY...)"),
    SeccompRule("shutdown", "--network host: the application's shutdown"),
]

ServiceMain.run(ServiceDefinition(
    name: "bulwark-netstack",
    summary: "user-space TCP/IP for the Sentry",
    options: [
        ServiceOption("--interface", value: "NAME", help: "host interface to take over (AF_PACKET; its addresses move to the netstack)"),
        ServiceOption("--link-fd", value: "N", help: "--network sandbox: the inherited AF_PACKET socket bound to the interface (opened by the spawner: then the netstack needs no capability)"),
        ServiceOption("--transmit-fd", value: "N", help: "with --link-fd: the inherited transmit socket with PACKET_VNET_HDR (segmentation offload)"),
        ServiceOption("--link-config", value: "TEXT", help: "with --link-fd: the interface's configuration as the spawner read it (name=,index=,mtu=,mac=,addr=,gw4=,gw6=)"),
        ServiceOption("--network", value: "sandbox|none|host", help: "none: loopback only (default); sandbox: take over --interface, or the first interface that is up and has an IPv4 address; host: back each socket with a host socket (less isolation)"),
    ],
    // Host syscalls beyond ServiceKit's base policy, each with its reason.
    policy: SeccompPolicy(name: "netstack", rules: [
        SeccompRule("poll", "driver thread: wait for frames or the stack's next timer"),
        SeccompRule("read", "driver thread: drain the doorbell eventfd of the socket arena"),
        SeccompRule("fstat", "Attach: check the socket arena memfd is as large as announced"),
        SeccompRule("newfstatat", "Attach: fstat as glibc 2.33+ issues it"),
        SeccompRule("recvfrom", "driver thread: read frames from the AF_PACKET socket"),
        SeccompRule("sendto", "send frames on the AF_PACKET socket"),
        SeccompRule("sendmmsg", "send the frames a poll or pump queued on the AF_PACKET socket in one call"),
        SeccompRule("clock_gettime", "the stack's monotonic clock (vDSO fallback)"),
    ] + hostRules),
    makeHandlers: { options in
        let network = options.values["--network"] ?? "none"
        let interface = options.values["--interface"]
        let handed = try HandedOverLink.parse(linkFD: options.values["--link-fd"], transmitFD: options.values["--transmit-fd"],
                                              config: options.values["--link-config"], interface: interface)
        guard handed == nil || network == "sandbox" else { throw NetstackSetupError(description: "--link-fd needs --network sandbox") }
        switch network {
        case "none":
            guard interface == nil else { throw NetstackSetupError(description: "--interface needs --network sandbox") }
            return try NetstackService(interface: nil).handlers()
        case "host":
            guard interface == nil else { throw NetstackSetupError(description: "--interface needs --network sandbox") }
            return try HostSocketService().handlers()
        case "sandbox":
            // The link the spawner opened and took over (LinkHandoff): nothing to open here.
            if let handed { return try NetstackService(interface: nil, handedOver: handed).handlers() }
            // Otherwise (a netstack started by hand, with CAP_NET_RAW/NET_ADMIN) it opens the link itself.
            // Without --interface: the namespace's first usable interface; none at all means loopback only
            // (an empty network namespace), said on stderr.
            guard let name = interface ?? LinkHandoff.firstUsableInterface() else {
                HostInterface.note("bulwark-netstack: --network sandbox: no interface is up with an IPv4 address; loopback only")
                return try NetstackService(interface: nil).handlers()
            }
            return try NetstackService(interface: name).handlers()
        default:
            throw NetstackSetupError(description: "--network must be sandbox, none or host, not \(network)")
        }
    }))
