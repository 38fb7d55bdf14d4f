// Command-line options common to every service: where its connection comes from.
import FaultInjection

public struct ServiceOptions: Equatable {
    public enum Endpoint: Equatable {
        /// A connected SEQPACKET socket inherited from the launcher.
        case channelFD(Int32)
        /// Started by hand: listen on this path and serve each connection.
        case listen(String)
    }

    public var endpoint: Endpoint
    /// Values of the service's own options (flags map to "").
    public var values: [String: String]
    /// `--fault SPEC` values, in order (issue 8; checked here, applied by ServiceMain).
    public var faults: [String] = []
    /// `--empty-root`: after setup, pivot_root into an empty read-only tmpfs (EmptyRoot.swift). Given by
    /// the launcher's supervisor, which starts the service in a private mount namespace.
    public var emptyRoot = false

    public struct UsageError: Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Parses `arguments` (without the program name). Returns nil when --help was asked for.
    public static func parse(_ arguments: [String], extra: [ServiceOption]) throws(UsageError) -> ServiceOptions? {
        var endpoint: Endpoint?
        var values: [String: String] = [:]
        var faults: [String] = []
        var emptyRoot = false
        var index = 0
        func value(for option: String) throws(UsageError) -> String {
            index += 1
            guard index < arguments.count else { throw UsageError(description: "\(option) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--help", "-h":
                return nil
            case "--channel-fd":
                let text = try value(for: argument)
                guard let fd = Int32(text), fd >= 0 else {
                    throw UsageError(description: "--channel-fd needs a descriptor number, got '\(text)'")
                }
                guard endpoint == nil else { throw UsageError(description: "give one of --channel-fd or --listen") }
                endpoint = .channelFD(fd)
            case "--listen":
                let path = try value(for: argument)
                guard !path.isEmpty else { throw UsageError(description: "--listen needs a path") }
                guard endpoint == nil else { throw UsageError(description: "give one of --channel-fd or --listen") }
                endpoint = .listen(path)
            case "--fault":
                let spec = try value(for: argument)
                do throws(FaultSpecError) { _ = try FaultSpec.parse(spec) } catch {
                    throw UsageError(description: "--fault: \(error)")
                }
                faults.append(spec)
            case "--empty-root":
                emptyRoot = true
            default:
                guard let option = extra.first(where: { $0.name == argument }) else {
                    throw UsageError(description: "unknown option '\(argument)'")
                }
                values[option.name] = option.valueName == nil ? "" : try value(for: argument)
            }
            index += 1
        }
        guard let endpoint else { throw UsageError(description: "give --channel-fd N or --listen PATH") }
        return ServiceOptions(endpoint: endpoint, values: values, faults: faults, emptyRoot: emptyRoot)
    }

    /// The --help text.
    public static func usage(for service: ServiceDefinition) -> String {
        var text = """
        \(service.name): \(service.summary)
        usage: \(service.name) (--channel-fd N | --listen PATH) [options]
          --channel-fd N   serve the connected SOCK_SEQPACKET socket N (given by the launcher)
          --listen PATH    create a SOCK_SEQPACKET socket at PATH and serve each connection (debugging)
          --fault SPEC     inject an IPC fault into replies (repeatable; see docs/FAULT-INJECTION.md)
          --empty-root     after setup, pivot_root into an empty tmpfs (needs a private mount namespace)
          --help           print this text

        """
        for option in service.options {
            let left = option.valueName.map { "\(option.name) \($0)" } ?? option.name
            text += "  \(left.padding(16)) \(option.help)\n"
        }
        text += "Every service answers message id 65535 (Ping) by echoing the body.\n"
        return text
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
