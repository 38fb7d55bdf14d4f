// `bulwark run/create --fault SPEC` (issue 8): checks every spec before anything is created (a typo is a
// usage error, not a silently fault-free run) and says where each one goes. The Sentry gets every spec:
// it applies the syscall ones itself and hands the IPC ones to the services it spawns; services the
// launcher starts itself get the IPC specs of their channel (and of `channel=any`) via `serviceArguments`.
import FaultInjection

struct FaultOptions {
    /// The specs as given, in order (order matters: the first rule that fires wins).
    let specs: [String]
    /// Each IPC spec with its channel (nil = any channel).
    let ipc: [(spec: String, channel: FaultChannel?)]

    init(_ specs: [String]) throws(RuntimeError) {
        var ipc: [(spec: String, channel: FaultChannel?)] = []
        for text in specs {
            do throws(FaultSpecError) {
                if case .ipc(let rule) = try FaultSpec.parse(text) { ipc.append((text, rule.channel)) }
            } catch {
                throw RuntimeError("--fault '\(text)': \(error.description)")
            }
        }
        self.specs = specs
        self.ipc = ipc
    }

    /// `args` (a Sentry command line ending in `-- PROGRAM...`) with `--fault SPEC` inserted before `--`.
    func addingSentryArguments(to args: [String]) -> [String] {
        guard !specs.isEmpty, let split = args.firstIndex(of: "--") else { return args }
        return Array(args[..<split]) + specs.flatMap { ["--fault", $0] } + Array(args[split...])
    }

    /// `--fault` arguments for a service the launcher starts itself.
    func serviceArguments(_ channel: FaultChannel) -> [String] {
        ipc.filter { $0.channel == nil || $0.channel == channel }.flatMap { ["--fault", $0.spec] }
    }

    /// The `--fault` arguments for a service the supervisor starts, from the Sentry's command line
    /// (`--fault SPEC` pairs before `--`, already checked at create).
    static func serviceArguments(_ channel: FaultChannel, sentryArguments args: [String]) -> [String] {
        let specs = ContainerLauncher.sentryOptionValues("--fault", in: args)
        guard let options = try? FaultOptions(specs) else { return [] }
        return options.serviceArguments(channel)
    }
}
