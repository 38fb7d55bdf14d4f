// Server-side fault injection (issue 8): a service started with `--fault SPEC` applies the plan to its
// replies. Reached from ServiceDispatcher.serveOne only when a plan exists (dispatcher.faults non-nil).
@preconcurrency import Glibc
import FaultInjection
import HostOS
import IPC
import Wire

/// The extra host syscalls a service needs only when faults are injected (added to its seccomp
/// allowlist then, never otherwise).
public enum FaultPolicy {
    public static let rules = SeccompPolicy(name: "faults", rules: [
        SeccompRule("nanosleep", "--fault action=delay"),
        SeccompRule("clock_nanosleep", "--fault action=delay (glibc's nanosleep)"),
        SeccompRule("getpid", "--fault action=kill-peer: SIGKILL to ourselves"),
        SeccompRule("kill", "--fault action=kill-peer: SIGKILL to ourselves"),
    ])
}

/// What serveOne does with the reply after the fault decision.
enum ServerFaultOutcome {
    case proceed
    case skipReply
    case close
    case killAfterReply
}

extension ServiceDispatcher {
    /// Builds the plan for `options.faults` (nil when there are no IPC faults). The channel is named
    /// after the service: bulwark-gofer -> gofer, ...; anything else (the Sentry) -> control.
    static func faultPlan(for service: String, specs: [String]) throws(FaultSpecError) -> ChannelFaults? {
        let plan = try FaultPlan(specs: specs, names: Channel.faultMessageNames)
        guard !plan.isEmpty else { return nil }
        let suffix = service.hasPrefix("bulwark-") ? String(service.dropFirst("bulwark-".count)) : service
        return ChannelFaults(plan: plan, channel: FaultChannel(rawValue: suffix) ?? .control, logName: service)
    }

    func applyFault(_ faults: ChannelFaults, _ channel: Channel, _ request: FrameHeader) -> ServerFaultOutcome {
        guard let action = faults.plan.decide(channel: faults.channel, messageID: request.messageID) else { return .proceed }
        faults.log(action, messageID: request.messageID)
        switch action {
        case .delay(let ms):
            faultSleep(milliseconds: ms)
            return .proceed
        case .dropReply: return .skipReply
        case .close: return .close
        case .killPeer: return .killAfterReply
        case .corrupt, .truncate, .duplicate:
            channel.armFault(action)
            return .proceed
        }
    }
}

/// Ends the service abruptly, as a crash would (no cleanup). A service that is pid 1 of its own pid
/// namespace (as the launcher starts them) cannot SIGKILL itself - the kernel ignores it - so it
/// then ends with _exit(137) (128 + SIGKILL), which takes the rest of its namespace down the same way.
func faultKillSelf() -> Never {
    _ = kill(getpid(), SIGKILL)
    _exit(128 + SIGKILL)
}
