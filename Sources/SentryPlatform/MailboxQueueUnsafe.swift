// The queue of memory operations (mmap, munmap, mprotect) that a stub runs itself before the
// application next runs, shared by both platforms: systrap runs it on its next return, ptrace in one
// batch stop.
// SAFETY: the pointer addresses a live bw_systrap_mailbox in memory shared with the stub; only the
// task thread that owns the stub writes the queue, and the stub reads it only while that thread waits.
import CBulwark

extension UnsafeMutablePointer where Pointee == bw_systrap_mailbox {
    /// No room for another operation: the caller runs the queue first.
    var operationQueueIsFull: Bool { Int(pointee.nops) >= Int(BW_MB_MAX_OPS) }

    /// Appends system call `nr` with its six arguments to the queue.
    func appendOperation(_ nr: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64, _ f: UInt64) {
        let i = Int(pointee.nops)
        withUnsafeMutablePointer(to: &pointee.ops) { tuple in
            tuple.withMemoryRebound(to: bw_systrap_op.self, capacity: Int(BW_MB_MAX_OPS)) { ops in
                ops[i].nr = nr
                ops[i].args = (a, b, c, d, e, f)
                ops[i].result = 0
            }
        }
        pointee.nops = UInt32(i + 1)
    }
}
