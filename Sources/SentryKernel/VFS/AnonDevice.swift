// Device numbers for the Sentry's own file systems. As on Linux, every file system instance (each
// tmpfs mount, the root overlay, devfs, procfs, sysfs) has a device of its own, major 0 ("unnamed"),
// which every object in it reports as st_dev, and /proc/self/mountinfo and maps show. Gofer mounts
// served directly (--overlay2 none, bind mounts) keep the host's device: those numbers are
// reserved here first so no Sentry file system is given one of them.
import Glibc

enum AnonDevice {
    /// Minors already used by fixed devices of the Sentry (devfs 5, sockets 8, pipes 12, sysfs 0x15,
    /// procfs 0x16, devpts 0x18) and host devices of gofer mounts.
    nonisolated(unsafe) private static var taken: Set<UInt> = [5, 6, 8, 12, 0x15, 0x16, 0x18]
    nonisolated(unsafe) private static var nextMinor: UInt32 = 0x30

    /// A device number no other file system of this sandbox has.
    static func next() -> UInt {
        while true {
            let d = UInt(makedev_(0, nextMinor))
            nextMinor += 1
            if !taken.contains(d) { taken.insert(d); return d }
        }
    }

    /// Marks a host device (a gofer mount's) as used.
    static func reserve(_ dev: UInt) { taken.insert(dev) }
}
