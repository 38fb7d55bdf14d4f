// libFuzzer target for every decoder Bulwark runs on untrusted bytes: FrameHeader.decode and each
// channel's message decoders. Built and run by tools/fuzz/run-fuzzer (not part of the package build).
// Each input is tried two ways:
//   - as a whole frame: header checked (as if the fds it declares arrived), then the body through every
//     channel's dispatch;
//   - as [message id, fd count, body...]: the body through every channel's decoder for that id.
// A decode that succeeds must re-encode to bytes that decode to the same value and re-encode identically;
// anything else (a trap, an ASan report, a leak, a huge allocation) is a finding.
import Protocol
import Wire

func check<C: WireChannelMessage>(_: C.Type, messageID: UInt16, view: MessageView) {
    let value: C
    do {
        value = try C.decode(messageID: messageID, view: view)
    } catch {
        _ = error.description  // errors must be printable
        return
    }
    var writer = MessageWriter()
    value.encode(into: &writer)
    let first = Array(writer.body)
    let again: C
    do {
        again = try first.withUnsafeBytes { raw in
            try C.decode(messageID: messageID, view: try MessageView(body: raw, fdCount: view.fdCount))
        }
    } catch {
        fatalError("re-encoded \(C.channelName) message \(messageID) does not decode: \(error)")
    }
    guard again == value else { fatalError("\(C.channelName) message \(messageID) changed in a round trip") }
    writer.reset()
    again.encode(into: &writer)
    guard Array(writer.body) == first else { fatalError("\(C.channelName) message \(messageID) encodes unstably") }
}

func checkAllChannels(messageID: UInt16, view: MessageView) {
    check(Control.Message.self, messageID: messageID, view: view)
    check(Gofer.Message.self, messageID: messageID, view: view)
    check(Netstack.Message.self, messageID: messageID, view: view)
    check(Procfs.Message.self, messageID: messageID, view: view)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)

    let declaredFDs = size > 12 ? Int(input[12]) : 0
    if let view = try? MessageView(frame: input, receivedFDs: declaredFDs), let header = view.header {
        checkAllChannels(messageID: header.messageID, view: view)
    }
    _ = try? FrameHeader.decode(input, receivedFDs: 0)

    if size >= 2 {
        let body = UnsafeRawBufferPointer(rebasing: input[2...])
        if let view = try? MessageView(body: body, fdCount: Int(input[1]) % (FrameHeader.maximumFDs + 1)) {
            checkAllChannels(messageID: UInt16(input[0]), view: view)
        }
    }
    return 0
}
