// The start of every service executable: parse options, set up the endpoint, build handlers, drop
// capabilities, install the seccomp allowlist, then serve. Nothing is served before the filter is in.
@preconcurrency import Glibc
import FaultInjection
import HostOS
import IPC

public enum ServiceMain {
    /// Runs `service` with the process's arguments; never returns.
    /// Exit status: 0 after --help or when the peer closed the connection, 1 on a protocol or setup
    /// failure, 2 on a usage error.
    public static func run(_ service: ServiceDefinition, arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Never {
        let options: ServiceOptions
        do {
            guard let parsed = try ServiceOptions.parse(arguments, extra: service.options) else {
                print(ServiceOptions.usage(for: service), terminator: "")
                exit(0)
            }
            options = parsed
        } catch {
            log("\(service.name): \(error)\n\(ServiceOptions.usage(for: service))")
            exit(2)
        }
        // FAULT INJECTION (issue 8): the plan from --fault (nil without one), and its extra syscalls.
        let faults: ChannelFaults?
        do { faults = try ServiceDispatcher.faultPlan(for: service.name, specs: options.faults) } catch {
            log("\(service.name): --fault: \(error)")
            exit(2)
        }
        // Signal state inherited from the spawner (a blocked SIGTERM would make the service unstoppable).
        do { try Signals.resetInherited() } catch { fail(service, "\(error)") }
        // The endpoint first: a listening socket cannot be created once socket/bind are forbidden.
        var channel: Channel?
        var listener: Int32 = -1   // owned until exit
        switch options.endpoint {
        case .channelFD(let fd):
            do { channel = Channel(try adoptChannel(fd)) } catch {
                fail(service, "--channel-fd \(fd): \(error)")
            }
        case .listen(let path):
            do { listener = try UnixSocket.listen(path: path).release() } catch {
                fail(service, "--listen \(path): \(error)")
            }
        }
        let table: HandlerTable
        do { table = try service.makeHandlers(options) } catch { fail(service, "setup: \(error)") }
        // No file is opened after setup: leave the host's file system for an empty root (needs
        // CAP_SYS_ADMIN, so before the capability drop).
        if options.emptyRoot {
            do { try EmptyRoot.enter() } catch { fail(service, "--empty-root: \(error)") }
        }
        do { try Capabilities.drop(keeping: service.keptCapabilities) } catch {
            fail(service, "dropping capabilities: \(error)")
        }
        let policy = ServiceKitPolicy.base.adding(service.policy)
        do { try Seccomp.install(faults == nil ? policy : policy.adding(FaultPolicy.rules)) } catch {
            fail(service, "installing seccomp policy: \(error)")
        }
        if let channel {
            let dispatcher = ServiceDispatcher(name: service.name, table: table)
            dispatcher.faults = faults
            dispatcher.seccompProbeAt = SeccompProbe.armed(for: service.name)
            switch dispatcher.serve(channel) {
            case .closed: exit(0)
            case .failed(let why): fail(service, why)
            }
        }
        // Debugging clients may stall: never let one block the others for long.
        let dispatcher = ServiceDispatcher(name: service.name, table: table, replyTimeout: .seconds(5))
        dispatcher.faults = faults
        dispatcher.seccompProbeAt = SeccompProbe.armed(for: service.name)
        let error = dispatcher.serveListener(listener)
        fail(service, "listener: \(error)")
    }

    /// Checks that `fd` is a SOCK_SEQPACKET socket, marks it CLOEXEC and takes ownership.
    static func adoptChannel(_ fd: Int32) throws(HostError) -> OwnedFD {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try hostCall("getsockopt(SO_TYPE)") { getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) }
        guard type == 5 else {   // SOCK_SEQPACKET
            throw HostError(call: "getsockopt(SO_TYPE) (not a SEQPACKET socket)", errno: .ENOTSOCK)
        }
        _ = try hostCall("fcntl(F_SETFD)") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return OwnedFD(adopting: fd)
    }

    static func fail(_ service: ServiceDefinition, _ why: String) -> Never {
        log("\(service.name): \(why)")
        exit(1)
    }
}
