import Foundation
import SentryVDSO
import TestSupport
import Testing

@Suite struct VDSOImageTests {
    @Test func imageIsOneReadExecuteSegmentMappableAsBytes() throws {
        let elf = try ELFFile(VDSOImage.bytes)
        #expect(elf.type == 3)  // ET_DYN
        #expect(elf.machine == 62)  // EM_X86_64
        let loads = try elf.programHeaders().filter { $0.type == 1 }
        #expect(loads.count == 1)
        let load = try #require(loads.first)
        #expect(load.offset == 0 && load.vaddr == 0)
        #expect(load.fileSize == load.memorySize)
        #expect(load.fileSize <= UInt64(VDSOImage.imagePages * VDSOImage.pageSize))
        #expect(load.flags == 5)  // PF_R | PF_X
        #expect(try elf.programHeaders().contains { $0.type == 2 })  // PT_DYNAMIC
    }

    @Test func exportsEveryEntryPointWithVersionLinux26AndWeakAlias() throws {
        let symbols = try ELFFile(VDSOImage.bytes).dynamicSymbols()
        for name in ["clock_gettime", "gettimeofday", "time", "clock_getres", "getcpu"] {
            let prefixed = try #require(symbols.first { $0.name == "__vdso_" + name }, "missing __vdso_\(name)")
            let plain = try #require(symbols.first { $0.name == name }, "missing \(name)")
            #expect(prefixed.version == VDSOImage.symbolVersion && plain.version == VDSOImage.symbolVersion)
            #expect(prefixed.type == 2 && plain.type == 2)  // STT_FUNC
            #expect(prefixed.binding == 1)  // STB_GLOBAL
            #expect(plain.binding == 2)  // STB_WEAK
            #expect(prefixed.value == plain.value && prefixed.value != 0)
            #expect(prefixed.value < UInt64(VDSOImage.bytes.count))
        }
    }

    @Test func generatedOffsetsMatchTheDynamicSymbolTable() throws {
        let elf = try ELFFile(VDSOImage.bytes)
        #expect(try elf.symbolOffset("__vdso_clock_gettime") == VDSOImage.SymbolOffset.clockGettime)
        #expect(try elf.symbolOffset("__vdso_clock_getres") == VDSOImage.SymbolOffset.clockGetres)
        #expect(try elf.symbolOffset("__vdso_gettimeofday") == VDSOImage.SymbolOffset.gettimeofday)
        #expect(try elf.symbolOffset("__vdso_time") == VDSOImage.SymbolOffset.time)
        #expect(try elf.symbolOffset("__vdso_getcpu") == VDSOImage.SymbolOffset.getcpu)
    }

    /// binutils' view agrees with ours: soname, version definition, symbols, and no relocations.
    @Test func readelfSeesTheKernelVDSOInterface() throws {
        try TestPaths.withScratchDirectory("vdso") { dir in
            let path = dir.appendingPathComponent("vdso.so").path
            try Data(VDSOImage.bytes).write(to: URL(fileURLWithPath: path))
            let r = try ProcessRunner.run("/usr/bin/readelf", ["-W", "--dyn-syms", "-V", "-d", "-r", path], timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stdout.contains("Library soname: [\(VDSOImage.soname)]"))
            #expect(r.stdout.contains("Name: \(VDSOImage.symbolVersion)"))
            #expect(r.stdout.contains("There are no relocations in this file."))
            for name in ["clock_gettime", "gettimeofday", "time", "clock_getres", "getcpu"] {
                #expect(r.stdout.contains(" __vdso_\(name)@@LINUX_2.6"), "no __vdso_\(name)")
                #expect(r.stdout.contains(" \(name)@@LINUX_2.6"), "no \(name)")
            }
        }
    }

    /// glibc's own loader accepts the image and finds every entry point by name and version LINUX_2.6, as
    /// it does for the kernel's vDSO (and refuses a version the image does not define).
    @Test func glibcFindsEveryEntryPointByVersion() throws {
        let elf = try ELFFile(VDSOImage.bytes)
        try TestPaths.withScratchDirectory("vdso-glibc") { dir in
            let image = dir.appendingPathComponent("vdso.so").path
            let tool = dir.appendingPathComponent("glibc-lookup").path
            try Data(VDSOImage.bytes).write(to: URL(fileURLWithPath: image))
            let source = TestPaths.repositoryRoot.appendingPathComponent("tools/vdso/glibc-lookup.c").path
            let cc = try ProcessRunner.run("/usr/bin/cc", ["-O1", "-Wall", "-o", tool, source], timeout: 60)
            #expect(cc.exitCode == 0, "\(cc)")
            let r = try ProcessRunner.run(tool, [image], timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count == 10, "\(r)")
            for line in lines {
                let fields = line.split(separator: " ")
                #expect(fields.count == 2, "\(line)")
                guard fields.count == 2 else { continue }
                let name = String(fields[0])
                let expected = try elf.symbolOffset(name.hasPrefix("__vdso_") ? name : "__vdso_" + name)
                #expect(Int(fields[1]) == expected, "\(line)")
            }
        }
    }
}
