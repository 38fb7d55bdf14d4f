// An AF_PACKET raw socket bound to one interface: whole Ethernet frames in and out, for the
// netstack's host link. Non-blocking; the caller waits with poll/epoll on `fd`.
import CBulwark
import Glibc

public final class PacketSocket {
    public let fd: OwnedFD
    public let interfaceIndex: Int32
    private var buffer: [UInt8]

    /// Opens the socket on `interface` (needs CAP_NET_RAW in the interface's network namespace).
    /// `maxFrame` bounds a received frame (MTU + Ethernet header); longer ones are dropped.
    public init(interface: String, maxFrame: Int) throws(HostError) {
        var index: Int32 = 0
        let raw = try hostCall("socket(AF_PACKET)") { bw_packet_open(interface, &index) }
        fd = OwnedFD(adopting: raw)
        interfaceIndex = index
        buffer = [UInt8](repeating: 0, count: max(64, maxFrame))
    }

    /// A socket opened by someone else (the supervisor: LinkHandoff.swift) and inherited.
    public init(adopting fd: consuming OwnedFD, interfaceIndex: Int32, maxFrame: Int) {
        self.fd = fd
        self.interfaceIndex = interfaceIndex
        buffer = [UInt8](repeating: 0, count: max(64, maxFrame))
    }

    /// The next received frame, or nil when none is waiting (EAGAIN) or on error.
    public func receive() -> [UInt8]? {
        var partial: Int32 = 0
        return receive(checksumPartial: &partial)
    }

    /// The next frame; `checksumPartial` says the kernel left its transport checksum unfinished
    /// (a local sender with offload), which the caller must complete before verifying.
    public func receive(checksumPartial: inout Int32) -> [UInt8]? {
        if let ring = receiveRing {
            while true {
                switch ring.take() {
                case .empty: return nil
                case .frame(let f, let partial): checksumPartial = partial ? 1 : 0; return f
                case .queued: if let f = receiveQueued(&checksumPartial) { return f }
                case .skipped: continue
                }
            }
        }
        return receiveQueued(&checksumPartial)
    }

    /// A receive ring (PACKET_MMAP) for this socket, once `useReceiveRing` succeeded.
    public private(set) var receiveRing: PacketReceiveRing?

    /// Switches receiving to a PACKET_MMAP ring: no system call per frame, none to find the socket
    /// empty. Returns false (and receiving stays on recvmsg) when the kernel refuses.
    @discardableResult
    public func useReceiveRing(frameSize: Int = 2048, frameCount: Int = 1024) -> Bool {
        guard receiveRing == nil else { return true }
        receiveRing = try? PacketReceiveRing(fd: fd.rawValue, frameSize: frameSize, frameCount: frameCount)
        return receiveRing != nil
    }

    /// The next frame from the socket's own queue (recvmsg).
    private func receiveQueued(_ checksumPartial: inout Int32) -> [UInt8]? {
        let n = buffer.withUnsafeMutableBytes { bw_packet_recv_partial(fd.rawValue, $0.baseAddress, $0.count, &checksumPartial) }
        guard n > 0 else { return nil }
        return Array(buffer[0..<n])
    }

    /// Sends one frame. Returns false when the kernel would block (queue full) or refused it.
    @discardableResult
    public func send(_ frame: [UInt8]) -> Bool {
        let n = frame.withUnsafeBytes { Glibc.send(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n == frame.count
    }
}
