// epoll interests and the descriptions they watch, linked both ways without reference counting
// (session 9). Before, an interest held its file weakly: every epoll_wait made one
// swift_weakLoadStrong per interest, and the weak reference gave each watched description (every
// socket of an event loop) a side table, so all its retains and releases took the slow path.
// Linux removes an interest when its file description is released (the last fd closed); here the
// description's deinit does it, and a set's deinit unlinks its interests from their files.
//
// SAFETY: `EpollInterest.file` and `.set` are unowned(unsafe). An interest is `live` from the
// epoll_ctl that adds it until it leaves its set (EPOLL_CTL_DEL, replaced by EPOLL_CTL_MOD, its file
// released, its set released); while live it is in its set's table and in its file's `epollLinks`.
// `FileDescription.deinit` unlinks every live interest of the file from its set and marks it dead,
// and `EpollFile.deinit` unlinks its live interests from their files and marks them dead, so neither
// pointer is followed after its object is gone: the set only reaches live interests (its table and
// its ordered cache are rebuilt on every change), and the file's list only holds live ones. All of
// it runs under the kernel lock (descriptions are released under it, Files.swift). epoll_wait's walk
// holds its set strongly and reads its interest list afresh at every check.
final class EpollInterest {
    unowned(unsafe) let file: FileDescription
    unowned(unsafe) let set: EpollFile
    let fd: Int32
    var events: UInt32, data: UInt64, disabled = false
    var edge = EdgeState()   // EPOLLET bookkeeping (EpollEdge.swift)
    /// A host-backed file (stdio): a wait re-polls it every 10 ms (host readiness does not wake).
    let host: Bool
    /// In its set and in its file's links (see SAFETY above).
    private(set) var live = true

    init(file: FileDescription, set: EpollFile, fd: Int32, events: UInt32, data: UInt64) {
        self.file = file; self.set = set; self.fd = fd; self.events = events; self.data = data
        host = file.hostPollFD != nil
    }

    /// Links a new interest into its file's list (its set's table is the caller's).
    func link() {
        if file.epollLinks == nil { file.epollLinks = [] }
        file.epollLinks!.append(self)
    }

    /// Takes the interest out of its file's list; it is no longer followed.
    func unlinkFromFile() {
        guard live else { return }
        live = false
        file.epollLinks?.removeAll { $0 === self }
    }

    /// The file is being released: the interest leaves its set (without touching the file's list,
    /// which goes with the file).
    func fileReleased() {
        guard live else { return }
        live = false
        set.removeInterest(self)
    }
}

extension FileDescription {
    /// From FileDescription.deinit: the file's interests leave their sets.
    func releaseEpollLinks() {
        guard let links = epollLinks else { return }
        epollLinks = nil
        for i in links { i.fileReleased() }
    }
}
