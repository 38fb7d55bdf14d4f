// Faults on the control channel (issue 8): the Sentry serves the launcher's Control channel, so
// `--fault channel=control,...` (given to `bulwark run/create`, which passes every spec to the Sentry, or
// to `bulwark-sentry run --control-fd N`) applies to the Sentry's replies there, as `--fault` does in a
// service: delay, drop the reply, corrupt/truncate/duplicate it, close the connection, or reply and
// then die by SIGKILL (kill-peer: the launcher sees its Sentry crash). Channel-less specs apply here too.
// Without such a spec there is no plan (`ControlFaults.faults == nil`): one branch per control request.
@preconcurrency import Glibc
import FaultInjection
import IPC
import Wire

enum ControlFaults {
    /// Set once at start-up (before any control thread exists); nil without control faults.
    nonisolated(unsafe) static var faults: ChannelFaults?
    /// Connections are served on their own threads: the plan's counters and PRNGs are serialised here.
    nonisolated(unsafe) static var mutex = pthread_mutex_t()

    /// What the control server does with the request after the fault decision.
    enum Outcome {
        case proceed
        case close
        case killAfterReply
    }

    /// Builds the plan from the IPC specs of the control channel and of any channel.
    static func install(_ specs: [(spec: String, channel: FaultChannel?)]) throws(FaultSpecError) {
        let mine = specs.filter { $0.channel == nil || $0.channel == .control }.map(\.spec)
        let plan = try FaultPlan(specs: mine, names: Channel.faultMessageNames)
        guard !plan.isEmpty else { return }
        pthread_mutex_init(&mutex, nil)
        faults = ChannelFaults(plan: plan, channel: .control, logName: "bulwark-sentry")
    }

    /// Decides and applies the fault for one request before it is handled (the delay happens here;
    /// frame faults and drop-reply are armed on the channel for the reply).
    static func before(_ faults: ChannelFaults, _ channel: Channel, _ request: FrameHeader) -> Outcome {
        pthread_mutex_lock(&mutex)
        let action = faults.plan.decide(channel: .control, messageID: request.messageID)
        if let action {
            // To the Sentry's log (--log FILE, e.g. the launcher's --debug-log), like its other fault lines.
            let name = faults.plan.messageName(channel: .control, messageID: request.messageID)
            Kernel.shared?.log("bulwark-sentry: fault: \(action) on \(name) #\(faults.plan.lastOccurrence)\n")
        }
        pthread_mutex_unlock(&mutex)
        guard let action else { return .proceed }
        switch action {
        case .delay(let ms):
            faultSleep(milliseconds: ms)
            return .proceed
        case .close: return .close
        case .killPeer: return .killAfterReply
        case .dropReply, .corrupt, .truncate, .duplicate:
            channel.armFault(action)
            return .proceed
        }
    }

    /// kill-peer: the Sentry ends abruptly, as a crash would (its guest's stubs go with it).
    static func killSelf() -> Never {
        fflush(stderr)
        _ = kill(getpid(), SIGKILL)
        abort()
    }
}
