// Advisory file locks kept in the Sentry, per file identity (st_dev, st_ino): flock(2) locks owned
// by the open file description; fcntl record locks (F_SETLK/F_SETLKW/F_GETLK) owned by the process;
// OFD record locks (F_OFD_*) owned by the open file description. F_SETLKW fails with EDEADLK when
// waiting would close a cycle of processes waiting on each other's record locks. Description-owned locks go away
// when the description is freed (weak owner); process-owned locks when the process closes any fd of
// the file or exits (POSIX). Blocking waits (LOCK_EX without LOCK_NB, F_SETLKW) sleep on the kernel
// condition, re-checking every 20 ms (descriptions are freed without a broadcast), and are
// interrupted by signals (restarted with SA_RESTART).
import Glibc

struct FileKey: Hashable {
    let dev: UInt
    let ino: UInt
}

/// Who owns a lock: a process (classic POSIX record lock) or an open file description.
enum LockOwner {
    case process(Int32)
    case description(Weak)
    struct Weak { weak var f: FileDescription? }

    func same(_ o: LockOwner) -> Bool {
        switch (self, o) {
        case (.process(let a), .process(let b)): return a == b
        case (.description(let a), .description(let b)): return a.f != nil && a.f === b.f
        default: return false
        }
    }
}

struct RecordLock {
    var owner: LockOwner
    var write: Bool
    var start: Int
    var end: Int   // inclusive; Int.max = to end of file
    func overlaps(_ s: Int, _ e: Int) -> Bool { start <= e && s <= end }
}

struct FlockEntry {
    var owner: LockOwner.Weak
    var exclusive: Bool
}

enum FileLocks {
    nonisolated(unsafe) static var records: [FileKey: [RecordLock]] = [:]
    nonisolated(unsafe) static var flocks: [FileKey: [FlockEntry]] = [:]
    /// Process blocked in F_SETLKW -> the process holding the lock it waits for (deadlock checks).
    nonisolated(unsafe) static var waitingFor: [Int32: Int32] = [:]

    /// True if `me` waiting for `holder` closes a cycle of processes waiting on each other.
    static func wouldDeadlock(_ me: Int32, _ holder: Int32) -> Bool {
        var h = holder
        for _ in 0..<64 {
            if h == me { return true }
            guard let next = waitingFor[h] else { return false }
            h = next
        }
        return false
    }

    static func key(_ f: FileDescription) -> FileKey? {
        var st = Glibc.stat()
        guard f.stat(&st) == 0 else { return nil }
        return FileKey(dev: UInt(st.st_dev), ino: UInt(st.st_ino))
    }

    /// Drops locks whose owner is gone (freed description, exited process).
    static func prune(_ k: FileKey, _ kernel: Kernel) {
        if var l = records[k] {
            l.removeAll { lock in
                switch lock.owner {
                case .description(let w): return w.f == nil
                case .process(let pid):
                    guard let g = kernel.threadGroups[pid] else { return true }
                    return g.zombie || g.exiting
                }
            }
            records[k] = l.isEmpty ? nil : l
        }
        if var l = flocks[k] {
            l.removeAll { $0.owner.f == nil }
            flocks[k] = l.isEmpty ? nil : l
        }
    }

    static func conflict(_ k: FileKey, _ owner: LockOwner, write: Bool, _ s: Int, _ e: Int) -> RecordLock? {
        records[k]?.first { !$0.owner.same(owner) && $0.overlaps(s, e) && ($0.write || write) }
    }

    /// Applies a lock or unlock for `owner` over [s, e]: its own locks there are replaced (split at
    /// the edges), then adjacent or overlapping locks of the same type are merged, as Linux does.
    static func apply(_ k: FileKey, _ owner: LockOwner, type: Int16, _ s: Int, _ e: Int) {
        var out: [RecordLock] = []
        var mine: [RecordLock] = []
        for l in records[k] ?? [] {
            if !l.owner.same(owner) { out.append(l); continue }
            if !l.overlaps(s, e) { mine.append(l); continue }
            if l.start < s { var a = l; a.end = s - 1; mine.append(a) }
            if l.end > e { var b = l; b.start = e + 1; mine.append(b) }
        }
        if type != Int16(F_UNLCK) { mine.append(RecordLock(owner: owner, write: type == Int16(F_WRLCK), start: s, end: e)) }
        mine.sort { $0.start < $1.start }
        var merged: [RecordLock] = []
        for l in mine {
            if var last = merged.last, last.write == l.write, last.end != Int.max, last.end + 1 >= l.start {
                last.end = max(last.end, l.end)
                merged[merged.count - 1] = last
            } else {
                merged.append(l)
            }
        }
        out += merged
        records[k] = out.isEmpty ? nil : out
    }

    /// close(2) by a process releases all its POSIX record locks on that file.
    static func releaseProcessLocks(_ k: FileKey, pid: Int32) {
        guard var l = records[k] else { return }
        l.removeAll { if case .process(let p) = $0.owner { return p == pid } else { return false } }
        records[k] = l.isEmpty ? nil : l
    }
}

extension Task {
    /// Blocks until a lock attempt succeeds (`attempt` returns true), or a signal arrives.
    private func waitForLock(_ attempt: () -> Bool) -> Int {
        while !attempt() {
            if interrupted { return -ERESTARTSYS }
            _ = block(deadline: addNanos(monotonicNow(), 20_000_000))
        }
        return 0
    }

    func sysFlock(_ fd: Int, _ op: Int32) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        let nb = op & 4 != 0
        let kind = op & ~4
        guard kind == 1 || kind == 2 || kind == 8 else { return errno(EINVAL) }
        guard let k = FileLocks.key(f) else { return errno(EBADF) }
        FileLocks.prune(k, kernel)
        // Conversion or unlock: this description's lock is removed first (not atomic, like Linux).
        FileLocks.flocks[k]?.removeAll { $0.owner.f === f }
        if kind == 8 { kernel.broadcast(); return 0 }
        let exclusive = kind == 2
        kernel.broadcast()
        let attempt = { () -> Bool in
            FileLocks.prune(k, self.kernel)
            let busy = (FileLocks.flocks[k] ?? []).contains { $0.owner.f !== f && ($0.exclusive || exclusive) }
            if busy { return false }
            FileLocks.flocks[k, default: []].append(FlockEntry(owner: LockOwner.Weak(f: f), exclusive: exclusive))
            return true
        }
        if nb { return attempt() ? 0 : errno(EWOULDBLOCK) }
        return waitForLock(attempt)
    }

    /// F_GETLK, F_SETLK, F_SETLKW (process-owned) and F_OFD_GETLK/SETLK/SETLKW (36/37/38).
    func sysRecordLock(_ f: FileDescription, _ cmd: Int32, _ arg: UInt64) -> Int {
        guard let b = mm.readBytes(arg, 32) else { return errno(EFAULT) }
        var type: Int16 = 0, whence: Int16 = 0, start = 0, len = 0, pid: Int32 = 0
        b.withUnsafeBytes { p in
            type = p.loadUnaligned(fromByteOffset: 0, as: Int16.self)
            whence = p.loadUnaligned(fromByteOffset: 2, as: Int16.self)
            start = p.loadUnaligned(fromByteOffset: 8, as: Int.self)
            len = p.loadUnaligned(fromByteOffset: 16, as: Int.self)
            pid = p.loadUnaligned(fromByteOffset: 24, as: Int32.self)
        }
        let ofd = cmd == 36 || cmd == 37 || cmd == 38
        if ofd && pid != 0 { return errno(EINVAL) }
        guard type == Int16(F_RDLCK) || type == Int16(F_WRLCK) || type == Int16(F_UNLCK) else { return errno(EINVAL) }
        // The range, normalized to absolute inclusive [s, e].
        var base = 0
        switch Int32(whence) {
        case SEEK_SET: base = 0
        case SEEK_CUR:
            let cur = f.seek(0, SEEK_CUR)
            if cur < 0 { return cur }
            base = cur
        case SEEK_END:
            var st = Glibc.stat()
            let r = f.stat(&st)
            if r < 0 { return r }
            base = st.st_size
        default: return errno(EINVAL)
        }
        var s = base + start, e: Int
        if len > 0 { e = s + len - 1 }
        else if len == 0 { e = Int.max }
        else { e = s - 1; s = s + len }
        guard s >= 0 else { return errno(EINVAL) }
        guard let k = FileLocks.key(f) else { return errno(EBADF) }
        let owner: LockOwner = ofd ? .description(LockOwner.Weak(f: f)) : .process(tg.pid)
        FileLocks.prune(k, kernel)
        if cmd == F_GETLK || cmd == 36 {
            guard type != Int16(F_UNLCK) else { return errno(EINVAL) }
            var out = [UInt8](repeating: 0, count: 32)
            out.withUnsafeMutableBytes { p in
                if let c = FileLocks.conflict(k, owner, write: type == Int16(F_WRLCK), s, e) {
                    p.storeBytes(of: Int16(c.write ? F_WRLCK : F_RDLCK), toByteOffset: 0, as: Int16.self)
                    p.storeBytes(of: Int16(SEEK_SET), toByteOffset: 2, as: Int16.self)
                    p.storeBytes(of: c.start, toByteOffset: 8, as: Int.self)
                    p.storeBytes(of: c.end == Int.max ? 0 : c.end - c.start + 1, toByteOffset: 16, as: Int.self)
                    var holder: Int32 = -1
                    if case .process(let pp) = c.owner { holder = pp }
                    p.storeBytes(of: holder, toByteOffset: 24, as: Int32.self)
                } else {
                    b.withUnsafeBytes { p.copyMemory(from: $0) }
                    p.storeBytes(of: Int16(F_UNLCK), toByteOffset: 0, as: Int16.self)
                }
            }
            return out.withUnsafeBytes { mm.copyOut(arg, $0.baseAddress!, 32) } ? 0 : errno(EFAULT)
        }
        if type == Int16(F_RDLCK) && !f.readable { return errno(EBADF) }
        if type == Int16(F_WRLCK) && !f.writable { return errno(EBADF) }
        let attempt = { () -> Bool in
            FileLocks.prune(k, self.kernel)
            if type != Int16(F_UNLCK) && FileLocks.conflict(k, owner, write: type == Int16(F_WRLCK), s, e) != nil { return false }
            FileLocks.apply(k, owner, type: type, s, e)
            self.kernel.broadcast()
            return true
        }
        if cmd == F_SETLKW, case .process(let me) = owner {
            // Linux detects waits-for cycles between processes for classic record locks.
            defer { FileLocks.waitingFor[me] = nil }
            var deadlock = false
            let r = waitForLock {
                if attempt() { return true }
                if let c = FileLocks.conflict(k, owner, write: type == Int16(F_WRLCK), s, e), case .process(let h) = c.owner {
                    if FileLocks.wouldDeadlock(me, h) { deadlock = true; return true }
                    FileLocks.waitingFor[me] = h
                }
                return false
            }
            return deadlock ? errno(EDEADLK) : r
        }
        if cmd == 38 { return waitForLock(attempt) }
        return attempt() ? 0 : errno(EAGAIN)
    }

    /// Any close of an fd (close, dup2 over it, close_range, close-on-exec) releases the process's
    /// record locks on that file (POSIX rule).
    func releaseRecordLocks(closing fd: Int) {
        if !FileLocks.records.isEmpty, let f = fds.get(fd), let k = FileLocks.key(f) {
            FileLocks.releaseProcessLocks(k, pid: tg.pid)
            kernel.broadcast()
        }
    }

    /// Close-on-exec closes count too.
    func releaseRecordLocksOnExec() {
        if FileLocks.records.isEmpty { return }
        for fd in fds.entries.indices where fds.entries[fd]?.cloexec == true { releaseRecordLocks(closing: fd) }
    }

    /// close(2).
    func sysCloseFD(_ fd: Int) -> Int {
        releaseRecordLocks(closing: fd)
        let r = fds.close(fd)
        if r == 0 && !FileLocks.flocks.isEmpty { kernel.broadcast() }
        return r
    }
}
