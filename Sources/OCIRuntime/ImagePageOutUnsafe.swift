// The supervisor lives as long as the container but, once the Sentry runs, only waits: poll, reap,
// forward a signal. Most of the pages it touched to get there are its own executable's (argument
// parsing, JSON, Foundation and ICU set-up: ~14 MB of a static release binary). MADV_PAGEOUT on its
// read-only file mappings hands those pages back to the kernel (dropped from page tables, reclaimed from
// the page cache unless another process maps them); the few the wait loop needs fault back in from the
// file. Nothing is lost: clean file pages are re-read, and writable mappings are left alone.
import Foundation
import Glibc

enum ImagePageOut {
    /// MADV_PAGEOUT (Linux 5.4); older kernels return EINVAL, which is harmless.
    static let madvPageOut: Int32 = 21

    /// Pages out every read-only file-backed mapping of this process; returns the bytes advised.
    @discardableResult
    static func pageOutReadOnlyFileMappings() -> Int {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return 0 }
        var total = 0
        for line in maps.split(separator: "\n") {
            // "start-end perms offset dev inode path"
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5].hasPrefix("/"), fields[1].count >= 2,
                  fields[1][fields[1].index(after: fields[1].startIndex)] != "w" else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16),
                  end > start else { continue }
            // SAFETY: the range is one of our own mappings, as the kernel listed it; madvise only changes
            // residency (MADV_PAGEOUT never discards data) and rejects anything that is not mapped.
            guard let address = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            if madvise(address, Int(end - start), madvPageOut) == 0 { total += Int(end - start) }
        }
        return total
    }
}
