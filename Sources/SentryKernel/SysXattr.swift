// Extended attributes: get/set/list/remove xattr on paths (following links or not, l*) and fds (f*).
import Glibc

extension Task {
    enum XattrTarget { case path(UInt64, follow: Bool), fd(Int) }

    private func xattrLocation(_ t: XattrTarget) -> KResult<VLocation> {
        switch t {
        case .fd(let fd):
            guard let f = fds.get(fd) else { return .failure(EBADF) }
            guard let l = f.location else { return .failure(EOPNOTSUPP) }
            return .success(l)
        case .path(let addr, let follow):
            switch targetArgs(AT_FDCWD_, addr, flags: follow ? 0 : AT_SYMLINK_NOFOLLOW_) {
            case .failure(let e): return .failure(e)
            case .success(.file(let f)): return f.location.map { .success($0) } ?? .failure(EOPNOTSUPP)
            case .success(.loc(let l)): return .success(l)
            }
        }
    }

    private func xattrName(_ addr: UInt64) -> KResult<String> {
        guard let b = mm.readCString(addr, max: 256) else { return .failure(mm.read(addr, as: UInt8.self) == nil ? EFAULT : ERANGE) }
        if b.isEmpty { return .failure(ERANGE) }
        let name = String(decoding: b, as: UTF8.self)
        guard ["user.", "trusted.", "security.", "system."].contains(where: { name.hasPrefix($0) }) else { return .failure(EOPNOTSUPP) }
        return .success(name)
    }

    func sysGetxattr(_ target: XattrTarget, _ nameAddr: UInt64, _ value: UInt64, _ size: Int) -> Int {
        let name: String, l: VLocation
        switch xattrName(nameAddr) { case .failure(let e): return errno(e); case .success(let n): name = n }
        switch xattrLocation(target) { case .failure(let e): return errno(e); case .success(let x): l = x }
        switch l.inode.getxattr(name) {
        case .failure(let e): return errno(e)
        case .success(let v):
            if size == 0 { return v.count }
            guard size >= v.count else { return errno(ERANGE) }
            if v.isEmpty { return 0 }
            return v.withUnsafeBytes { mm.copyOut(value, $0.baseAddress!, v.count) } ? v.count : errno(EFAULT)
        }
    }

    func sysSetxattr(_ target: XattrTarget, _ nameAddr: UInt64, _ value: UInt64, _ size: Int, _ flags: Int32) -> Int {
        guard flags & ~3 == 0, size >= 0, size <= 65536 else { return errno(size > 65536 ? E2BIG : EINVAL) }
        let name: String, l: VLocation
        switch xattrName(nameAddr) { case .failure(let e): return errno(e); case .success(let n): name = n }
        var v = [UInt8](repeating: 0, count: size)
        if size > 0 { guard v.withUnsafeMutableBytes({ mm.copyIn(value, $0.baseAddress!, size) }) else { return errno(EFAULT) } }
        switch xattrLocation(target) { case .failure(let e): return errno(e); case .success(let x): l = x }
        if l.mount.readOnly { return errno(EROFS) }
        let r = l.inode.setxattr(name, v, flags: flags)
        if r == 0 { InotifyHub.onFile(l.dentry, IN_ATTRIB_) }
        return Int(r)
    }

    func sysListxattr(_ target: XattrTarget, _ list: UInt64, _ size: Int) -> Int {
        let l: VLocation
        switch xattrLocation(target) { case .failure(let e): return errno(e); case .success(let x): l = x }
        switch l.inode.listxattr() {
        case .failure(let e): return errno(e)
        case .success(let names):
            var b: [UInt8] = []
            for n in names { b += Array(n.utf8) + [0] }
            if size == 0 { return b.count }
            guard size >= b.count else { return errno(ERANGE) }
            if b.isEmpty { return 0 }
            return b.withUnsafeBytes { mm.copyOut(list, $0.baseAddress!, b.count) } ? b.count : errno(EFAULT)
        }
    }

    func sysRemovexattr(_ target: XattrTarget, _ nameAddr: UInt64) -> Int {
        let name: String, l: VLocation
        switch xattrName(nameAddr) { case .failure(let e): return errno(e); case .success(let n): name = n }
        switch xattrLocation(target) { case .failure(let e): return errno(e); case .success(let x): l = x }
        if l.mount.readOnly { return errno(EROFS) }
        let r = l.inode.removexattr(name)
        if r == 0 { InotifyHub.onFile(l.dentry, IN_ATTRIB_) }
        return Int(r)
    }
}
