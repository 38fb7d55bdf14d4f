// ServiceKit's option parsing and handler table, without processes.
import HostOS
import IPC
import LinuxABI
import ServiceKit
import Testing

@Suite struct ServiceOptionsTests {
    let extra = [ServiceOption("--root", value: "DIR", help: "files to serve"), ServiceOption("--verbose", help: "log")]

    @Test func parsesEndpointsAndServiceOptions() throws {
        let a = try #require(try ServiceOptions.parse(["--channel-fd", "7", "--root", "/srv", "--verbose"], extra: extra))
        #expect(a.endpoint == .channelFD(7))
        #expect(a.values == ["--root": "/srv", "--verbose": ""])
        let b = try #require(try ServiceOptions.parse(["--listen", "/tmp/x.sock"], extra: []))
        #expect(b.endpoint == .listen("/tmp/x.sock"))
        #expect(try ServiceOptions.parse(["--listen", "/x", "--help"], extra: []) == nil)
    }

    @Test(arguments: [
        ([], "give --channel-fd N or --listen PATH"),
        (["--channel-fd"], "--channel-fd needs a value"),
        (["--channel-fd", "-3"], "--channel-fd needs a descriptor number, got '-3'"),
        (["--channel-fd", "x"], "--channel-fd needs a descriptor number, got 'x'"),
        (["--listen", "/a", "--channel-fd", "3"], "give one of --channel-fd or --listen"),
        (["--listen", ""], "--listen needs a path"),
        (["--listen", "/a", "--root"], "--root needs a value"),
        (["--bogus"], "unknown option '--bogus'"),
    ])
    func rejectsBadArguments(_ arguments: [String], _ message: String) {
        #expect(throws: ServiceOptions.UsageError(description: message)) {
            _ = try ServiceOptions.parse(arguments, extra: extra)
        }
    }

    @Test func usageListsServiceOptions() {
        let definition = ServiceDefinition(name: "bulwark-x", summary: "does x", options: extra,
                                           policy: SeccompPolicy(name: "x", rules: []))
        let text = ServiceOptions.usage(for: definition)
        #expect(text.hasPrefix("bulwark-x: does x\nusage: bulwark-x (--channel-fd N | --listen PATH) [options]\n"))
        #expect(text.contains("  --root DIR       files to serve\n"))
    }

    @Test func dispatcherRunsHandlersAndReportsFailures() throws {
        var table = HandlerTable()
        table.register(5) { request, reply throws(ServiceFailure) in
            reply.body.append(contentsOf: request.body.reversed())
        }
        table.register(6) { _, _ throws(ServiceFailure) in throw ServiceFailure(.EACCES, "denied") }
        let dispatcher = ServiceDispatcher(name: "t", table: table)
        let pair = try UnixSocket.pair().releaseBoth()
        let server = Channel(OwnedFD(adopting: pair.second))
        let raw = pair.first
        final class Flag: @unchecked Sendable { var ok = false }
        let flag = Flag()
        let peer = PeerThread {
            let client = Channel(OwnedFD(adopting: raw))
            guard let reply = try? client.call(5, body: [1, 2, 3], timeout: .seconds(5)), Array(reply.body) == [3, 2, 1]
            else { return }
            guard case .failure(.remote(.EACCES, "denied"))? = Result(catching: { () throws(IPCError) in
                try client.call(6, body: [], timeout: .seconds(5)).messageID
            }) as Result<UInt16, IPCError>? else { return }
            flag.ok = true
            client.close()
        }
        #expect(dispatcher.serveOne(server, timeout: .seconds(5)) == nil)
        #expect(dispatcher.serveOne(server, timeout: .seconds(5)) == nil)
        #expect(dispatcher.serveOne(server, timeout: .seconds(5)) == .closed)   // the client was satisfied
        #expect(peer.join())
        #expect(flag.ok)
    }
}
