// Edge-triggered epoll (EPOLLET). An edge is reported when the file's readiness gains a bit it did
// not have at the previous check, or when new input (output room) arrived since the last report
// while it is readable (writable): files count those events in inputSeq/outputSeq (pipes, eventfd,
// pseudo-terminals). Files that keep no counters report only readiness changes, which is what
// programs that read or write until EAGAIN rely on.
let EPOLLET_: UInt32 = 0x8000_0000

struct EdgeState {
    var lastReady: Int16 = 0
    var lastIn: UInt64 = 0
    var lastOut: UInt64 = 0
    var primed = false

    /// Whether an edge-triggered interest reports `ready` now; remembers the state either way.
    mutating func fires(_ file: FileDescription, _ ready: Int16) -> Bool {
        let inSeq = file.inputSeq, outSeq = file.outputSeq
        var fire = ready & ~lastReady != 0
        if primed {
            if ready & POLLIN_ != 0 && inSeq != lastIn { fire = true }
            if ready & POLLOUT_ != 0 && outSeq != lastOut { fire = true }
        }
        lastReady = ready
        lastIn = inSeq
        lastOut = outSeq
        primed = true
        return fire && ready != 0
    }
}
