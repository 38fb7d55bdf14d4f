// splice, tee and readahead. splice moves at most 1 MiB a call through the Sentry between a pipe
// and any file (one side must be a pipe, as on Linux); tee copies queued bytes from one pipe to
// another without consuming them; readahead only checks its descriptor (data is read on demand).
import Glibc

extension Task {
    private func pipeOf(_ f: FileDescription) -> PipeBuffer? {
        if let p = f as? PipeEnd { return p.pipe }
        if let p = f as? FifoReadWriteEnd { return p.r.pipe }
        return nil
    }

    func sysSplice(_ inFD: Int, _ inOff: UInt64, _ outFD: Int, _ outOff: UInt64, _ len: Int, _ flags: UInt32) -> Int {
        guard flags & ~UInt32(0xf) == 0 else { return errno(EINVAL) }   // MOVE, NONBLOCK, MORE, GIFT
        guard let inp = fds.get(inFD), let out = fds.get(outFD) else { return errno(EBADF) }
        guard inp.readable, out.writable else { return errno(EBADF) }
        let inPipe = pipeOf(inp), outPipe = pipeOf(out)
        guard inPipe != nil || outPipe != nil else { return errno(EINVAL) }
        if inPipe != nil && inOff != 0 || outPipe != nil && outOff != 0 { return errno(ESPIPE) }
        if inPipe != nil && inPipe === outPipe { return errno(EINVAL) }
        if inp.isDirectory || out.isDirectory { return errno(EINVAL) }
        if len == 0 { return 0 }
        let n = min(max(len, 0), 1 << 20, outPipe.map { max($0.capacity - $0.count, 1) } ?? Int.max)
        let tmp = scratch(n)
        let r: Int
        var ioff = 0
        if inOff != 0 {
            guard let o = mm.read(inOff, as: Int.self) else { return errno(EFAULT) }
            if o < 0 { return errno(EINVAL) }
            ioff = o
            r = inp.pread(self, tmp, o)
        } else {
            r = inp.read(self, tmp)
        }
        if r <= 0 { return r }
        let data = UnsafeRawBufferPointer(rebasing: tmp[0..<r])
        let w: Int
        if outOff != 0 {
            guard let o = mm.read(outOff, as: Int.self) else { return errno(EFAULT) }
            if o < 0 { return errno(EINVAL) }
            w = out.pwrite(self, data, o)
            if w > 0 { _ = mm.write(outOff, o + w) }
        } else {
            w = out.write(self, data)
        }
        if w > 0 && inOff != 0 { _ = mm.write(inOff, ioff + w) }
        return w
    }

    func sysTee(_ inFD: Int, _ outFD: Int, _ len: Int, _ flags: UInt32) -> Int {
        guard flags & ~UInt32(0xf) == 0 else { return errno(EINVAL) }
        guard let inp = fds.get(inFD), let out = fds.get(outFD) else { return errno(EBADF) }
        guard let src = pipeOf(inp), let dst = pipeOf(out), inp.readable, out.writable else { return errno(EINVAL) }
        if src === dst { return errno(EINVAL) }
        while src.count == 0 {
            if src.writers == 0 { return 0 }
            if inp.nonblocking || flags & 2 != 0 { return errno(EAGAIN) }
            if !block(deadline: nil) { return -ERESTARTSYS }
        }
        let n = min(max(len, 0), src.count)
        if n == 0 { return 0 }
        let copy = Array(src.data[src.head..<(src.head + n)])
        return copy.withUnsafeBytes { out.write(self, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    func sysReadahead(_ fd: Int, _ offset: Int, _ count: Int) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        guard f.readable, f.hostFileFD != nil || f is TmpfsFile, !f.isDirectory else { return errno(EINVAL) }
        return 0
    }
}
