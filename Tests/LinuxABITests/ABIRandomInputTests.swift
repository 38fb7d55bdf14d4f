// Guest bytes are untrusted: the one decoder that parses lengths (linux_dirent64) must return a record
// inside the buffer or an ABIError for any input, never trap. Seeded, so a failure reproduces. (The fixed
// structs never validate content; ABIValueTests covers every length below their minimum.)
import Testing
import LinuxABI
import TestSupport

@Suite struct ABIRandomInputTests {
    @Test func direntWalkOverRandomBytesNeverTraps() {
        var rng = SeededRandom(seed: 0xB01D_FACE)
        var decoded = 0, rejected = 0
        for _ in 0..<5000 {
            let count = Int.random(in: 0...96, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Bias d_reclen towards plausible values so the name scan is exercised, not just the length check.
            if count > 18, Bool.random(using: &rng) { bytes[16] = UInt8.random(in: 19...UInt8(min(count + 8, 255)), using: &rng); bytes[17] = 0 }
            // Walk the buffer as getdents64 output; every step is a record inside the buffer or an error.
            var offset = 0
            bytes.withUnsafeBytes { raw in
                while offset < raw.count {
                    do {
                        let d = try Dirent64(decoding: raw, at: offset)
                        #expect(Int(d.d_reclen) > Dirent64.nameOffset + d.d_name.count)
                        #expect(offset + Int(d.d_reclen) <= raw.count)
                        #expect(!d.d_name.contains(0))
                        offset += Int(d.d_reclen)
                        decoded += 1
                    } catch {
                        rejected += 1
                        break
                    }
                }
            }
        }
        #expect(decoded > 100 && rejected > 100, "decoded \(decoded), rejected \(rejected): the input mix is not useful")
    }
}
