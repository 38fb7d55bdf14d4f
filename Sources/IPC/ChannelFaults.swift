// Fault injection in the IPC layer (issue 8): the client-side decision for each call, and the faulty
// send (corrupt, truncate, duplicate) used by both sides. Reached from Channel only when a plan was
// installed (Channel.faults non-nil) or a fault was armed (Channel.pendingFault non-nil).
@preconcurrency import Glibc
import FaultInjection
import HostOS
import LinuxABI
import Wire

/// A plan bound to one channel: which service is at the other end and the name for log lines.
public final class ChannelFaults {
    public let plan: FaultPlan
    public let channel: FaultChannel
    /// Prefix of the one-line stderr log per fault, e.g. "bulwark-sentry".
    public let logName: String
    /// Set by a drop-reply fault: the reply to the current call is discarded when it arrives.
    var dropReply = false

    public init(plan: FaultPlan, channel: FaultChannel, logName: String) {
        self.plan = plan
        self.channel = channel
        self.logName = logName
    }

    /// Logs "<name>: fault: <action> on <message> #<n>".
    public func log(_ action: FaultAction, messageID: UInt16) {
        let line = "\(logName): fault: \(action) on \(plan.messageName(channel: channel, messageID: messageID)) #\(plan.lastOccurrence)\n"
        fputs(line, stderr)
    }
}

/// Sleeps `milliseconds` (EINTR resumes the rest).
public func faultSleep(milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

extension Channel {
    /// Installs fault rules for this channel's calls (client side). An empty plan installs nothing:
    /// the hook stays nil and costs one branch per call.
    public func injectFaults(_ plan: FaultPlan, channel: FaultChannel, logName: String) {
        faults = plan.isEmpty ? nil : ChannelFaults(plan: plan, channel: channel, logName: logName)
    }

    /// Makes the next frame this channel sends faulty (corrupt, truncate, duplicate, or drop-reply: not
    /// sent at all). Used by servers (ServiceKit, the Sentry's control server) for faults on replies;
    /// other actions are not frame changes and are ignored.
    public func armFault(_ action: FaultAction) {
        switch action {
        case .corrupt, .truncate, .duplicate, .dropReply: pendingFault = action
        default: break
        }
    }

    /// Client side, before a call's request is sent. Throws when the fault ends the call.
    func faultBeforeCall(_ faults: ChannelFaults, messageID: UInt16, deadline: Deadline) throws(IPCError) {
        faults.dropReply = false
        guard let action = faults.plan.decide(channel: faults.channel, messageID: messageID) else { return }
        faults.log(action, messageID: messageID)
        switch action {
        case .delay(let ms):
            // The request is held back; a delay past the deadline ends the call as a timeout at the
            // deadline, as a slow link would.
            let left = Int(deadline.remainingMicroseconds() / 1000)
            faultSleep(milliseconds: min(ms, max(left, 0)))
            if ms > left { throw .timeout }
        case .dropReply: faults.dropReply = true
        case .corrupt, .truncate, .duplicate: pendingFault = action
        case .close:
            close()
            throw .closed
        case .killPeer:
            fputs("\(faults.logName): fault: kill-peer is applied by services only (ignored here)\n", stderr)
        }
    }

    /// Sends one frame with the armed fault applied (the fault is used up).
    func sendFaulty(_ action: FaultAction, _ header: FrameHeader, body: UnsafeRawBufferPointer,
                    fds: UnsafeBufferPointer<Int32>) -> Errno? {
        pendingFault = nil
        var frame = [UInt8](repeating: 0, count: FrameHeader.size)
        frame.withUnsafeMutableBytes { header.encode(into: $0) }
        frame.append(contentsOf: body)
        switch action {
        case let .corrupt(offset, mask):
            for (j, m) in mask.enumerated() where offset + j < frame.count { frame[offset + j] ^= m }
        case .truncate(let bytes):
            if bytes < frame.count { frame.removeLast(frame.count - bytes) }
        case .duplicate:
            if let errno = sendRawFrame(frame, fds: fds) { return errno }
        case .dropReply:
            return nil   // armed by a server: the reply is "sent" and lost
        default: break
        }
        return sendRawFrame(frame, fds: fds)
    }

    private func sendRawFrame(_ frame: [UInt8], fds: UnsafeBufferPointer<Int32>) -> Errno? {
        var failure: Errno?
        let fd = descriptor
        frame.withUnsafeBytes { bytes in
            do throws(HostError) {
                _ = try UnixSocket.send(fd, header: bytes, body: UnsafeRawBufferPointer(start: nil, count: 0), fds: fds)
            } catch { failure = error.errno }
        }
        return failure
    }
}
