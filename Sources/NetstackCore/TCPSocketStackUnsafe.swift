// A TCP socket's reference to its stack without reference counting (session 10, link). The `unowned`
// reference it replaces cost a swift_unownedRetainStrong (an atomic compare-and-swap loop) and a
// release at every timer arming from the receive path (delayed ACK set per data segment: ~1% of the
// netstack's samples under redis-benchmark).
//
// SAFETY: a TCPSocket is created by its NetworkStack and reached only through it: the stack's socket
// and connection tables, its timer queue, its change list and listeners' accept queues, all owned by
// the stack; NetworkStack methods are the only callers of the TCPSocket code that uses the reference
// (deadline property setters, TCPSocket.deadlineSet). So every use happens inside a call the stack
// is making, i.e. while the stack is alive. (Tests that make TCPSocket objects themselves hold the
// stack for as long as they set deadlines.) The referent is never released through this reference.
struct StackReference {
    private let unmanaged: Unmanaged<NetworkStack>

    init(_ stack: NetworkStack) { unmanaged = .passUnretained(stack) }

    /// Runs `body` with the stack, neither retained nor released.
    @inline(__always) func with<R>(_ body: (NetworkStack) -> R) -> R {
        unmanaged._withUnsafeGuaranteedRef(body)
    }
}
