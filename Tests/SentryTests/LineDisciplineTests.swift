// The pseudo-terminal line discipline on its own: canonical editing, echo, signal characters, raw
// mode, output processing and the kernel termios encoding. Expected bytes follow Linux's n_tty
// (checked against a host pty: see TerminalJobControlTests for the end-to-end comparisons).
import Testing
@testable import SentryKernel

@Suite("Line discipline")
struct LineDisciplineTests {
    func feed(_ ld: LineDiscipline, _ s: [UInt8]) -> LineDiscipline.InputEffects {
        var fx = LineDiscipline.InputEffects()
        let n = s.withUnsafeBytes { ld.receive($0, &fx) }
        #expect(n == s.count)
        return fx
    }

    func output(_ ld: LineDiscipline, _ s: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        s.withUnsafeBytes { ld.processOutput($0, into: &out) }
        return out
    }

    @Test func canonicalLineEditingAndEcho() {
        let ld = LineDiscipline()
        let fx = feed(ld, Array("hello\u{7f}o wor\u{15}again\r".utf8))
        #expect(!fx.echo.isEmpty)
        // Echo: erase is "\b \b" per erased cell; kill with ECHOKE erases the whole line.
        let expectedEcho = Array("hello".utf8) + [8, 32, 8] + Array("o wor".utf8) + Array(repeating: [8, 32, 8], count: 9).flatMap { $0 } + Array("again\n".utf8)
        #expect(fx.echo == expectedEcho)
        #expect(output(ld, fx.echo).suffix(2) == [13, 10])
        #expect(ld.read(max: 100) == Array("again\n".utf8))
        #expect(ld.read(max: 100) == nil)
    }

    @Test func linesAreReadOneAtATimeAndEOFReadsEmpty() {
        let ld = LineDiscipline()
        _ = feed(ld, Array("one\ntwo\n".utf8) + [4] + Array("par".utf8) + [4])
        #expect(ld.availableCount == 11)
        #expect(ld.read(max: 2) == Array("on".utf8))
        #expect(ld.read(max: 100) == Array("e\n".utf8))
        #expect(ld.read(max: 100) == Array("two\n".utf8))
        #expect(ld.read(max: 100) == [])            // VEOF on an empty line: end of file
        #expect(ld.read(max: 100) == Array("par".utf8))   // VEOF after text: the text, no terminator
        #expect(ld.read(max: 100) == nil)
    }

    @Test func signalCharactersFlushAndEchoAsCaret() {
        let ld = LineDiscipline()
        let fx = feed(ld, Array("abc".utf8) + [3] + [0x1c] + [0x1a])
        #expect(fx.signals == [2, 3, 20])
        #expect(fx.echo == Array("abc^C^\\^Z".utf8))
        #expect(ld.read(max: 10) == nil)
        var t = ld.termios
        t.lflag &= ~Termios.ISIG
        ld.setTermios(t)
        #expect(feed(ld, [3, 10]).signals.isEmpty)
        #expect(ld.read(max: 10) == [3, 10])
    }

    @Test func rawModeDeliversBytesAsTyped() {
        let ld = LineDiscipline()
        var t = ld.termios
        t.lflag &= ~(Termios.ICANON | Termios.ECHO | Termios.ISIG)
        t.iflag &= ~Termios.ICRNL
        t.oflag &= ~Termios.OPOST
        ld.setTermios(t)
        let fx = feed(ld, [97, 13, 3, 0x7f])
        #expect(fx.echo.isEmpty && fx.signals.isEmpty)
        #expect(ld.hasReadable && ld.availableCount == 4)
        #expect(ld.read(max: 2) == [97, 13])
        #expect(ld.read(max: 9) == [3, 0x7f])
        #expect(output(ld, [10]) == [10])
    }

    @Test func switchingToRawKeepsTheLineInProgress() {
        let ld = LineDiscipline()
        _ = feed(ld, Array("half".utf8))
        #expect(ld.read(max: 10) == nil)
        var t = ld.termios
        t.lflag &= ~Termios.ICANON
        ld.setTermios(t)
        #expect(ld.read(max: 10) == Array("half".utf8))
    }

    @Test func outputProcessing() {
        let ld = LineDiscipline()
        #expect(output(ld, Array("a\nb".utf8)) == [97, 13, 10, 98])
        var t = ld.termios
        t.oflag |= Termios.OCRNL
        ld.setTermios(t)
        #expect(output(ld, [13]) == [10])
    }

    @Test func termiosEncodingRoundTripsAndMatchesLinuxDefaults() {
        let d = Termios.slaveDefault
        let b = d.encode()
        #expect(b.count == 36)
        #expect(Termios.decode(b) == d)
        #expect(Termios.decode(Array(b.prefix(20))) == nil)
        // Linux's pty slave defaults (as shown by strace of a host pty).
        #expect(d.iflag == 0x500 && d.oflag == 0x5 && d.lflag == 0x8a3b && d.cflag == 0xbf)
    }
}
