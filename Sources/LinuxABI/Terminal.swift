// Terminal structs: the kernel's struct termios as TCGETS/TCSETS copy it (<asm/termbits.h>, 36 bytes:
// no c_ispeed/c_ospeed, unlike glibc's 60-byte struct) and struct winsize (<asm-generic/termios.h>).

/// Kernel struct termios (TCGETS/TCSETS*), 36 bytes.
public struct Termios: ABIStruct {
    public static let nccs = 19
    public var c_iflag: UInt32 = 0
    public var c_oflag: UInt32 = 0
    public var c_cflag: UInt32 = 0
    public var c_lflag: UInt32 = 0
    public var c_line: UInt8 = 0
    /// Control characters indexed by VINTR (0) ... VEOL2 (16).
    public var c_cc = FixedBytes<19>()
    public init() {}

    public static let size = 36
    public static let layout = ABILayout<Termios>("struct termios", size: 36, [
        .init("c_iflag", 0, 4, \.c_iflag), .init("c_oflag", 4, 4, \.c_oflag),
        .init("c_cflag", 8, 4, \.c_cflag), .init("c_lflag", 12, 4, \.c_lflag),
        .init("c_line", 16, 1, \.c_line), .init("c_cc", 17, 19, \.c_cc),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 36)
        c_iflag = b.abiLoad(0); c_oflag = b.abiLoad(4); c_cflag = b.abiLoad(8); c_lflag = b.abiLoad(12)
        c_line = b.abiLoad(16); c_cc = FixedBytes(loading: b, at: 17)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(36)
        b.abiStore(c_iflag, 0); b.abiStore(c_oflag, 4); b.abiStore(c_cflag, 8); b.abiStore(c_lflag, 12)
        b.abiStore(c_line, 16); c_cc.store(into: b, at: 17)
    }
}

/// struct winsize: TIOCGWINSZ/TIOCSWINSZ (8 bytes).
public struct WinSize: ABIStruct {
    public var ws_row: UInt16
    public var ws_col: UInt16
    public var ws_xpixel: UInt16
    public var ws_ypixel: UInt16
    public init(ws_row: UInt16 = 0, ws_col: UInt16 = 0, ws_xpixel: UInt16 = 0, ws_ypixel: UInt16 = 0) {
        self.ws_row = ws_row; self.ws_col = ws_col; self.ws_xpixel = ws_xpixel; self.ws_ypixel = ws_ypixel
    }

    public static let size = 8
    public static let layout = ABILayout<WinSize>("struct winsize", size: 8, [
        .init("ws_row", 0, 2, \.ws_row), .init("ws_col", 2, 2, \.ws_col),
        .init("ws_xpixel", 4, 2, \.ws_xpixel), .init("ws_ypixel", 6, 2, \.ws_ypixel),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 8)
        ws_row = b.abiLoad(0); ws_col = b.abiLoad(2); ws_xpixel = b.abiLoad(4); ws_ypixel = b.abiLoad(6)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(8); b.abiStore(ws_row, 0); b.abiStore(ws_col, 2); b.abiStore(ws_xpixel, 4); b.abiStore(ws_ypixel, 6)
    }
}
