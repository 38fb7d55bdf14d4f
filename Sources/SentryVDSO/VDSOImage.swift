// Bulwark's vDSO: the image the Sentry maps into every application so that clock_gettime, gettimeofday,
// time, clock_getres and getcpu run without a system call. Built from tools/vdso/ by tools/gen-vdso; the
// bytes and symbol offsets are in VDSOImage.generated.swift.
//
// How the loader maps it (one range of `VDSOImage.mappingPages` pages per address space):
//
//   vdsoBase - 4096  [vvar]  one page of the Sentry's memory file, PROT_READ, MAP_SHARED. The Sentry keeps
//                            it current with `VDSOTimekeeper.publish(to:)` through its own mapping; one
//                            page can serve every address space of the sandbox (the clocks are shared).
//   vdsoBase         [vdso]  `VDSOImage.bytes` copied once into the memory file, zero-padded to whole
//                            pages, PROT_READ | PROT_EXEC, MAP_SHARED; never written after the copy.
//
// AT_SYSINFO_EHDR in the auxiliary vector is `vdsoBase`. The image has one PT_LOAD at offset 0, address 0,
// file size == memory size, and no relocations (tools/gen-vdso refuses otherwise), so the bytes work
// unchanged at any page-aligned base. The vDSO finds the vvar page PC-relatively at `vvarOffset`, so the
// two must stay adjacent: a guest mremap of one without the other breaks clocks as it would on Linux.
// fork keeps both mappings; execve maps them afresh.

/// The vDSO image and where its pieces live relative to its load address.
public enum VDSOImage {
    /// The page size the image is laid out for.
    public static let pageSize = 4096
    /// Where the vvar page starts, relative to the vDSO base (the page just below it).
    public static let vvarOffset = -4096
    /// Pages the image itself occupies (the byte count rounded up).
    public static var imagePages: Int { (bytes.count + pageSize - 1) / pageSize }
    /// Pages to reserve for vvar + vDSO together.
    public static var mappingPages: Int { imagePages + 1 }
    /// The soname glibc sees in its link map.
    public static let soname = "linux-vdso.so.1"
    /// The symbol version of every export, as in Linux's x86-64 vDSO.
    public static let symbolVersion = "LINUX_2.6"
    /// The auxiliary vector tag whose value is the vDSO base (AT_SYSINFO_EHDR).
    public static let auxvTag: UInt64 = 33
    /// The names /proc/<pid>/maps shows for the two mappings, as on Linux.
    public static let vvarMapName = "[vvar]"
    public static let vdsoMapName = "[vdso]"
}
