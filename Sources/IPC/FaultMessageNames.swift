// Message names for `--fault message=NAME`, from each channel's generated message list (issue 8). Every service also
// answers ServiceKit's Ping (id 65535); on the control channel "Ping" is the schema's own Ping.
import FaultInjection
import Protocol
import Wire

extension Channel {
    /// Name -> id per channel, for FaultPlan.
    public static let faultMessageNames: FaultMessageNames = {
        func table(_ types: [any WireMessage.Type]) -> [String: UInt16] {
            var names: [String: UInt16] = ["Ping": 0xFFFF]
            for type in types { names[type.name] = type.messageID }
            return names
        }
        return [
            .control: table(Control.Message.messageTypes),
            .gofer: table(Gofer.Message.messageTypes),
            .netstack: table(Netstack.Message.messageTypes),
            .procfs: table(Procfs.Message.messageTypes),
        ]
    }()
}
