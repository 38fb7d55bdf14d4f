// The generated zero-copy views read the same values as the decoders, straight from the receive buffer.
import Protocol
import Testing
import Wire

@Suite struct ViewTests {
    @Test func walkReplyReadsNestedTablesInPlace() throws {
        let reply = Gofer.WalkReply.example(0)
        var w = MessageWriter()
        try w.encode(reply, requestID: 1, flags: [.reply])
        try w.withFrame { raw in
            let view = try Gofer.WalkReply.View(try MessageView(frame: raw, receivedFDs: 0))
            let inodes = try #require(try view.inodes)
            #expect(inodes.count == reply.inodes.count)
            for i in 0..<inodes.count {
                let inode = Gofer.Inode.View(try inodes.table(i))
                #expect(try inode.fid == reply.inodes[i].fid)
                let stat = try #require(try inode.stat)
                #expect(try stat.mode == reply.inodes[i].stat.mode)
                #expect(try stat.mtimeSec == reply.inodes[i].stat.mtimeSec)
                #expect(try stat.rdevMinor == reply.inodes[i].stat.rdevMinor)
            }
        }
    }

    @Test func stringsAndBytesAreSlicesOfTheFrame() throws {
        let walk = Gofer.Walk(dir: 3, names: ["usr", "lib", "x86_64-linux-gnu"])
        var w = MessageWriter()
        try w.encode(walk, requestID: 2)
        try w.withFrame { raw in
            let view = try Gofer.Walk.View(try MessageView(frame: raw, receivedFDs: 0))
            #expect(try view.dir == 3)
            let names = try #require(try view.names)
            #expect(names.count == 3)
            let last = try names.element(2)
            #expect(last.baseAddress! >= raw.baseAddress! && last.baseAddress! + last.count <= raw.baseAddress! + raw.count)
            #expect(String(decoding: last, as: UTF8.self) == "x86_64-linux-gnu")
        }
        let reply = Procfs.ReadFileReply(content: Array("cpu 1 2 3\n".utf8), eof: true, totalSize: 10)
        try w.encode(reply, requestID: 3, flags: [.reply])
        try w.withFrame { raw in
            let view = try Procfs.ReadFileReply.View(try MessageView(frame: raw, receivedFDs: 0))
            #expect(Array(try view.content) == reply.content)
            #expect(try view.eof)
            #expect(try view.totalSize == 10)
        }
    }

    @Test func viewsCheckLikeTheDecoders() throws {
        // An fd index beyond the received descriptors, and absent fields reading as defaults.
        var w = MessageWriter()
        try w.encode(Gofer.OpenReply(hostFD: FDIndex(0)), requestID: 4, flags: [.reply], fdCount: 1)
        let body = Array(w.body)
        try body.withUnsafeBytes { raw in
            let none = try Gofer.OpenReply.View(try MessageView(body: raw, fdCount: 0))
            #expect(throws: WireError.badFDIndex(index: 0, received: 0)) { _ = try none.hostFD }
            let one = try Gofer.OpenReply.View(try MessageView(body: raw, fdCount: 1))
            #expect(try one.hostFD == FDIndex(0))
        }
        let empty: [UInt8] = [0, 0, 0, 0]
        try empty.withUnsafeBytes { raw in
            let view = try Control.Signal.View(try MessageView(body: raw, fdCount: 0))
            #expect(try view.pid == 0)
            #expect(try view.all == false)
            #expect(try view.containerID.count == 0)
        }
    }
}
