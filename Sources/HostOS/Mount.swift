// mount(2), umount2(2) and pivot_root(2) for building a sandbox process's file system view.
import CBulwark
import Glibc

public enum Mount {
    /// mount(2) flags used by the launcher.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt
        public init(rawValue: UInt) { self.rawValue = rawValue }
        public static let readOnly = Flags(rawValue: UInt(MS_RDONLY))
        public static let noSuid = Flags(rawValue: UInt(MS_NOSUID))
        public static let noDev = Flags(rawValue: UInt(MS_NODEV))
        public static let noExec = Flags(rawValue: UInt(MS_NOEXEC))
        public static let remount = Flags(rawValue: UInt(MS_REMOUNT))
        public static let bind = Flags(rawValue: UInt(MS_BIND))
        public static let recursive = Flags(rawValue: UInt(MS_REC))
        public static let `private` = Flags(rawValue: UInt(MS_PRIVATE))
        public static let slave = Flags(rawValue: UInt(MS_SLAVE))
    }

    /// mount(2).
    public static func mount(source: String?, target: String, type: String?, flags: Flags,
                             data: String? = nil) throws(HostError) {
        _ = try hostCall("mount") {
            withOptional(source) { src in
                withOptional(type) { fstype in
                    withOptional(data) { options in
                        Glibc.mount(src, target, fstype, flags.rawValue, options)
                    }
                }
            }
        }
    }

    /// Makes every mount under `path` private, so later mounts do not propagate back to the host.
    public static func makePrivate(_ path: String = "/") throws(HostError) {
        try mount(source: nil, target: path, type: nil, flags: [.private, .recursive])
    }

    /// umount2(2); `detach` is MNT_DETACH (lazy).
    public static func unmount(_ target: String, detach: Bool = false) throws(HostError) {
        _ = try hostCall("umount2") { umount2(target, detach ? Int32(MNT_DETACH) : 0) }
    }

    /// pivot_root(2): `newRoot` becomes / and the old root is moved to `putOld`.
    public static func pivotRoot(_ newRoot: String, putOld: String) throws(HostError) {
        _ = try hostCall("pivot_root") { bw_pivot_root(newRoot, putOld) }
    }
}

private func withOptional<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
