// sendmmsg and recvmmsg for every socket type: a loop over sendmsg/recvmsg, one struct mmsghdr
// (a msghdr plus the u32 msg_len, 64 bytes) at a time, as Linux does.
import Glibc

extension Task {
    func sysSendmmsg(_ fd: Int, _ vec: UInt64, _ vlen: Int, _ flags: Int32) -> Int {
        guard fds.get(fd) != nil else { return errno(EBADF) }
        let n = min(max(vlen, 0), 1024)
        var sent = 0
        while sent < n {
            let entry = vec + UInt64(sent * 64)
            let r = sysSendmsg(fd, entry, flags)
            if r < 0 { return sent > 0 ? sent : r }
            if !mm.write(entry + 56, UInt32(r)) { return sent > 0 ? sent : errno(EFAULT) }
            sent += 1
        }
        return sent
    }

    func sysRecvmmsg(_ fd: Int, _ vec: UInt64, _ vlen: Int, _ flags: Int32, _ timeout: UInt64) -> Int {
        guard fds.get(fd) != nil else { return errno(EBADF) }
        var deadline: timespec? = nil
        if timeout != 0 {
            switch readTimeout(timeout) { case .failure(let e): return errno(e); case .success(let d): deadline = d }
        }
        let n = min(max(vlen, 0), 1024)
        var got = 0
        var fl = flags & ~0x10000   // MSG_WAITFORONE
        while got < n {
            let entry = vec + UInt64(got * 64)
            let r = sysRecvmsg(fd, entry, fl)
            if r < 0 { return got > 0 ? got : r }
            if !mm.write(entry + 56, UInt32(r)) { return got > 0 ? got : errno(EFAULT) }
            got += 1
            if flags & 0x10000 != 0 { fl |= MSG_DONTWAIT_ }
            // The timeout is checked after each datagram, as Linux does.
            if let d = deadline, !lessThan(monotonicNow(), d) { break }
        }
        return got
    }
}
