// The hand-written UTF-8 validator must agree with the standard library's on every input.
import Testing
import TestSupport
@testable import Wire

@Suite struct UTF8ValidationTests {
    func agree(_ bytes: [UInt8]) -> Bool {
        let ours = bytes.withUnsafeBytes { UTF8Validation.isValid($0) }
        let stdlib = String(validating: bytes, as: UTF8.self) != nil
        return ours == stdlib
    }

    @Test func agreesWithTheStandardLibraryOnEveryOneAndTwoByteInput() {
        var disagreements: [[UInt8]] = []
        for a in 0...255 {
            if !agree([UInt8(a)]) { disagreements.append([UInt8(a)]) }
            for b in 0...255 where !agree([UInt8(a), UInt8(b)]) { disagreements.append([UInt8(a), UInt8(b)]) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    @Test func agreesOnThreeAndFourByteSequencesAroundEveryBoundary() {
        // Continuation candidates at and around the 0x80...0xBF range and the special second-byte ranges.
        let seconds: [UInt8] = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
        var disagreements: [[UInt8]] = []
        for lead in 0xC0...0xFF {
            for b in seconds {
                for c in seconds {
                    let three = [UInt8(lead), b, c]
                    if !agree(three) { disagreements.append(three) }
                    for d in seconds where !agree(three + [d]) { disagreements.append(three + [d]) }
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    @Test func agreesOnRandomMixedText() {
        var rng = SeededRandom(seed: 42)
        var disagreements = 0
        for _ in 0..<20_000 {
            let count = Int(rng.next() % 40)
            let bytes = (0..<count).map { _ -> UInt8 in
                let r = rng.next()
                return r % 3 == 0 ? UInt8(truncatingIfNeeded: r >> 8) | 0x80 : UInt8(truncatingIfNeeded: r >> 8) & 0x7F
            }
            if !agree(bytes) { disagreements += 1 }
        }
        #expect(disagreements == 0)
        #expect(agree(Array("héllo wörld ✓ 𝄞 plain ascii text longer than eight bytes".utf8)))
    }
}
