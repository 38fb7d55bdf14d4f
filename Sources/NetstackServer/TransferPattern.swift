// The bulk-transfer payload of the interop probe and tests: a 1 MiB pseudo-random block repeated, so
// both ends can produce and check a stream of any length cheaply.
import HostOS
import NetstackCore

public enum TransferPattern {
    public static let block: [UInt8] = {
        var rng = SplitMix64(seed: 0xB01_3A4C)
        var b = [UInt8](repeating: 0, count: StreamChecksum.blockSize)
        var i = 0
        while i < b.count {
            var w = rng.next()
            for j in 0..<8 { b[i + j] = UInt8(truncatingIfNeeded: w); w >>= 8 }
            i += 8
        }
        return b
    }()

    /// The StreamChecksum of the first `length` bytes of the pattern stream.
    public static func checksum(length: Int) -> UInt64 {
        var c = StreamChecksum()
        var left = length
        block.withUnsafeBytes { whole in
            while left > 0 {
                let n = min(left, whole.count)
                c.add(UnsafeRawBufferPointer(rebasing: whole[0..<n]))
                left -= n
            }
        }
        return c.finish()
    }
}
