// The container's terminal (OCI process.terminal): the application's stdin, stdout and stderr are the
// slave of an in-sandbox pseudo-terminal (/dev/pts/N, PseudoTerminal.swift), and the Sentry plays its
// master: it copies bytes between that master and a host terminal (the pty slave whose master the
// launcher sent to --console-socket, or the caller's own terminal for a foreground `run`/`exec -t`).
//
// So echo, canonical editing, ^C -> SIGINT to the foreground process group, ^Z and the rest are done
// by the in-sandbox line discipline; the host terminal is put in raw mode (restored when the bridge
// ends) so it passes bytes through untouched. A window size change on the host terminal (the engine's
// TIOCSWINSZ on the master it holds) is seen by polling TIOCGWINSZ and becomes the in-sandbox size,
// with SIGWINCH to the foreground group. runsc reaches the same result by forwarding the host tty.
//
// Two host threads per bridge: input (host -> line discipline; it also checks the window size every
// 100 ms while idle) and output (slave output -> host). Both take the kernel lock for the terminal's
// state, like any task. The bridge ends when every slave descriptor is closed (the processes using the
// terminal are gone): remaining output is written, the host descriptors closed (an exec's host pty
// slave then reads as hung up on the engine's side).
import CBulwark
import Glibc

final class ConsoleBridge {
    let kernel: Kernel
    let term: Terminal
    let inFD: Int32
    let outFD: Int32
    /// Host descriptors to close when the bridge ends (exec's; init's are the Sentry's own stdio).
    let ownedFDs: [Int32]
    /// The process the bridge was made for (init or an exec'd process): its exit is reported only once
    /// what it wrote has reached the host (`flushed`), as a host pty has it when runc reports an exit.
    let ownerPID: Int32
    private var savedTermios: termios?
    /// Kernel lock held for these.
    private var stopping = false
    private(set) var outputFinished = false
    /// The output thread is writing a chunk to the host (outside the lock). Kernel lock held.
    private var writing = false
    private var inputFinished = false
    private var hostSize: winsize?

    /// Bridges alive, so their terminals (weakly held by Terminals) stay. Kernel lock held.
    nonisolated(unsafe) static var active: [ConsoleBridge] = []
    /// `bulwark-sentry run --terminal`: init's stdio is bridged from the Sentry's fds 0 (in) and 1 (out).
    nonisolated(unsafe) static var initTerminal = false

    private init(kernel: Kernel, term: Terminal, inFD: Int32, outFD: Int32, owned: [Int32], ownerPID: Int32) {
        self.kernel = kernel
        self.ownerPID = ownerPID
        self.term = term
        self.inFD = inFD
        self.outFD = outFD
        self.ownedFDs = owned
    }

    /// A new in-sandbox terminal bridged to the host descriptors `inFD`/`outFD`; its slave becomes fds
    /// 0, 1 and 2 of `fds` and the controlling terminal of `tg`'s session (tg leads it). Kernel lock
    /// held. The bridge threads start at once.
    @discardableResult
    static func attach(_ kernel: Kernel, tg: ThreadGroup, fds: FDTable, inFD: Int32, outFD: Int32,
                       owned: [Int32]) -> ConsoleBridge {
        let term = Terminals.allocate()
        term.locked = false
        term.uid = tg.uid
        let bridge = ConsoleBridge(kernel: kernel, term: term, inFD: inFD, outFD: outFD, owned: owned, ownerPID: tg.pid)
        bridge.makeHostRaw()
        if let size = bridge.readHostSize() {
            bridge.hostSize = size
            term.winsize = (size.ws_row, size.ws_col, size.ws_xpixel, size.ws_ypixel)
        }
        let modes = [O_RDWR, O_RDWR, O_RDWR]
        for (i, mode) in modes.enumerated() {
            let slave = PtySlave(term, flags: mode)
            slave.path = "/dev/pts/\(term.index)"
            fds.installAt(i, slave, cloexec: false)
        }
        term.attach(tg)
        active.append(bridge)
        spawnThread { bridge.inputLoop() }
        spawnThread { bridge.outputLoop() }
        return bridge
    }

    /// Init's stdio when the Sentry runs with --terminal (SysProcess.swift, startInit). Kernel lock
    /// held. False when there is no terminal to set up.
    static func installInitTerminal(_ kernel: Kernel, tg: ThreadGroup, fds: FDTable) -> Bool {
        guard initTerminal else { return false }
        attach(kernel, tg: tg, fds: fds, inFD: 0, outFD: 1, owned: [])
        return true
    }

    /// Called when init has exited, before the Sentry ends: writes what the application wrote last
    /// and restores the host terminal (bounded: a host side nobody reads cannot hold us).
    static func drainAll(_ kernel: Kernel, milliseconds: Int = 1000) {
        kernel.lock()
        let bridges = active
        for b in bridges { b.stopping = true }
        kernel.broadcast()
        let deadline = addNanos(monotonicNow(), milliseconds * 1_000_000)
        while bridges.contains(where: { !$0.outputFinished }) && lessThan(monotonicNow(), deadline) {
            kernel.waitCond(deadline: deadline)
        }
        kernel.unlock()
        for b in bridges { b.restoreHost() }
    }

    /// Everything the slaves wrote so far is on the host side (or the bridge has ended). Kernel lock held.
    var flushed: Bool { outputFinished || (term.output.isEmpty && !writing) }

    /// Called (kernel lock held) after `pid` exited, before its exit status is reported: waits, bounded,
    /// until its terminal's output is written to the host. Without it `docker exec -it` lost the
    /// last output about 1 run in 20: the engine saw the exit and closed the pty while the bridge
    /// still held the bytes.
    static func flushOutput(of pid: Int32, _ kernel: Kernel, milliseconds: Int = 1000) {
        guard let bridge = active.first(where: { $0.ownerPID == pid }) else { return }
        let deadline = addNanos(monotonicNow(), milliseconds * 1_000_000)
        while !bridge.flushed && lessThan(monotonicNow(), deadline) { kernel.waitCond(deadline: deadline) }
    }

    // MARK: host terminal

    private func makeHostRaw() {
        guard isatty(inFD) != 0 else { return }
        var t = termios()
        guard tcgetattr(inFD, &t) == 0 else { return }
        savedTermios = t
        var raw = t
        cfmakeraw(&raw)
        _ = tcsetattr(inFD, TCSANOW, &raw)
    }

    private func restoreHost() {
        guard var t = savedTermios else { return }
        savedTermios = nil
        _ = tcsetattr(inFD, TCSANOW, &t)
    }

    private func readHostSize() -> winsize? {
        var w = winsize()
        guard bw_ioctl(inFD, 0x5413 /* TIOCGWINSZ */, &w) == 0 else { return nil }
        return w
    }

    /// A changed host window size becomes the terminal's, with SIGWINCH to its foreground group (as
    /// TIOCSWINSZ on the master does). Kernel lock held.
    private func syncWindowSize() {
        guard let size = readHostSize() else { return }
        if let old = hostSize, old.ws_row == size.ws_row, old.ws_col == size.ws_col,
           old.ws_xpixel == size.ws_xpixel, old.ws_ypixel == size.ws_ypixel { return }
        hostSize = size
        let new = (size.ws_row, size.ws_col, size.ws_xpixel, size.ws_ypixel)
        if term.winsize != new {
            term.winsize = new
            kernel.signalProcessGroup(term.fgPgrp, SIGWINCH)
        }
    }

    // MARK: threads

    /// Host input -> the line discipline (echo, signals, the slave's read queue).
    private func inputLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var pending: [UInt8] = []
        var hostOpen = true
        while true {
            if pending.isEmpty && hostOpen {
                var p = pollfd(fd: inFD, events: Int16(POLLIN), revents: 0)
                let k = poll(&p, 1, 100)
                if k > 0 && p.revents & Int16(POLLIN) != 0 {
                    let n = buffer.withUnsafeMutableBytes { read(inFD, $0.baseAddress, $0.count) }
                    if n > 0 {
                        pending = Array(buffer[0..<n])
                    } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                        hostOpen = false
                    }
                } else if k > 0 && p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                    hostOpen = false
                }
                if !hostOpen { hostClosed() }
            } else if !hostOpen {
                usleep(100_000)
            }
            kernel.lock()
            if stopping || outputFinished || term.hungUp && pending.isEmpty {
                inputFinished = true
                kernel.unlock()
                return
            }
            syncWindowSize()
            if !pending.isEmpty {
                if term.hungUp {
                    pending.removeAll()
                } else {
                    let n = pending.withUnsafeBytes { term.input(kernel, $0) }
                    pending.removeFirst(n)
                    // The line discipline is full: wait for the application to read (bounded).
                    if !pending.isEmpty { kernel.waitCond(deadline: addNanos(monotonicNow(), 50_000_000)) }
                }
            }
            kernel.unlock()
        }
    }

    /// The host side went away. A host terminal whose master was closed (the engine is gone) hangs
    /// the in-sandbox terminal up (SIGHUP to the session); end of file on a pipe only ends input.
    private func hostClosed() {
        guard isatty(inFD) != 0 else { return }
        kernel.lock()
        if !term.hungUp { term.hangup(kernel) }
        kernel.unlock()
    }

    /// Slave output -> host, until no slave descriptor is left (or the Sentry ends).
    private func outputLoop() {
        while true {
            kernel.lock()
            if writing {   // the last chunk is out: a waiting `flushOutput` may go on
                writing = false
                kernel.broadcast()
            }
            while term.output.isEmpty && !(term.slaveEverOpened && term.slaveOpens == 0) && !stopping {
                kernel.waitCond(deadline: addNanos(monotonicNow(), 200_000_000))
            }
            let chunk = term.output
            term.output.removeAll(keepingCapacity: true)
            if !chunk.isEmpty {
                term.slaveRoomSeq &+= 1
                writing = true
                kernel.broadcast()
            }
            let done = chunk.isEmpty && (stopping || term.slaveOpens == 0)
            kernel.unlock()
            if !chunk.isEmpty { writeHost(chunk) }
            if done { break }
        }
        kernel.lock()
        outputFinished = true
        kernel.broadcast()
        // The input thread notices within its poll interval; then the host descriptors can go.
        let deadline = addNanos(monotonicNow(), 1_000_000_000)
        while !inputFinished && lessThan(monotonicNow(), deadline) { kernel.waitCond(deadline: deadline) }
        ConsoleBridge.active.removeAll { $0 === self }
        kernel.unlock()
        if !ownedFDs.isEmpty {
            restoreHost()
            for fd in ownedFDs { close(fd) }
        }
    }

    /// Writes everything (a host side that is gone just loses the output).
    private func writeHost(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(outFD, raw.baseAddress! + off, raw.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
        }
    }
}
