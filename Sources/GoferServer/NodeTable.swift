// Server-side file handles: a bounded table of O_PATH descriptors indexed by fid. A fid is
// (generation << 32) | (slot + 1): 0 is never valid, and a released slot handed out again gets a new
// generation, so a stale fid from the client is refused instead of naming another file.
import HostOS
import LinuxABI
import ServiceKit

final class NodeTable {
    private var fds: [Int32] = []
    private var readOnly: [Bool] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int] = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    var count: Int { fds.count - freeSlots.count }

    /// Takes ownership of `fd`; ENFILE when the table is full (the fd is closed then).
    func insert(_ fd: consuming OwnedFD, readOnly ro: Bool) throws(ServiceFailure) -> UInt64 {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            guard fds.count < limit else {
                fd.close()
                throw ServiceFailure(.ENFILE, "gofer: node table full (\(limit) nodes); close some")
            }
            fds.append(-1)
            readOnly.append(false)
            generations.append(0)
            slot = fds.count - 1
        }
        fds[slot] = fd.release()
        readOnly[slot] = ro
        return (UInt64(generations[slot]) << 32) | UInt64(slot + 1)
    }

    private func slot(_ fid: UInt64) -> Int? {
        let index = Int(fid & 0xffff_ffff) - 1
        guard index >= 0, index < fds.count, fds[index] >= 0, UInt64(generations[index]) == fid >> 32 else { return nil }
        return index
    }

    /// The node's descriptor and whether it is read-only; EBADF for an unknown fid.
    func lookup(_ fid: UInt64) throws(ServiceFailure) -> (fd: Int32, readOnly: Bool) {
        guard let index = slot(fid) else { throw ServiceFailure(.EBADF, "gofer: unknown fid \(fid)") }
        return (fds[index], readOnly[index])
    }

    /// Closes the node; false for an unknown fid.
    @discardableResult
    func remove(_ fid: UInt64) -> Bool {
        guard let index = slot(fid) else { return false }
        OwnedFD(adopting: fds[index]).close()
        fds[index] = -1
        generations[index] &+= 1
        freeSlots.append(index)
        return true
    }
}
