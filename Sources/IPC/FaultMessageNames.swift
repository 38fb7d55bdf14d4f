// Message names for `--fault message=NAME`, from the Protocol schemas (issue 8). Every service also
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
            .control: table([Control.Hello.self, Control.HelloReply.self, Control.StartContainer.self, Control.StartContainerReply.self, Control.ExecProcess.self, Control.ExecProcessReply.self, Control.Signal.self, Control.SignalReply.self, Control.Wait.self, Control.ExitStatus.self, Control.ListProcesses.self, Control.ProcessList.self, Control.Ping.self, Control.Pong.self, Control.Shutdown.self, Control.ShutdownReply.self]),
            .gofer: table([Gofer.Attach.self, Gofer.AttachReply.self, Gofer.Walk.self, Gofer.WalkReply.self, Gofer.WalkStat.self, Gofer.WalkStatReply.self, Gofer.Open.self, Gofer.OpenReply.self, Gofer.Create.self, Gofer.CreateReply.self, Gofer.Mkdir.self, Gofer.InodeReply.self, Gofer.Mknod.self, Gofer.Symlink.self, Gofer.Link.self, Gofer.Unlink.self, Gofer.EmptyReply.self, Gofer.Rename.self, Gofer.Readlink.self, Gofer.ReadlinkReply.self, Gofer.StatFile.self, Gofer.StatReply.self, Gofer.SetAttr.self, Gofer.StatFS.self, Gofer.StatFSReply.self, Gofer.Getdents.self, Gofer.GetdentsReply.self, Gofer.GetXattr.self, Gofer.GetXattrReply.self, Gofer.SetXattr.self, Gofer.ListXattr.self, Gofer.ListXattrReply.self, Gofer.RemoveXattr.self, Gofer.Fsync.self, Gofer.Fallocate.self, Gofer.Close.self]),
            .netstack: table([Netstack.Socket.self, Netstack.SocketReply.self, Netstack.EmptyReply.self, Netstack.Bind.self, Netstack.Listen.self, Netstack.Accept.self, Netstack.AcceptReply.self, Netstack.Connect.self, Netstack.Shutdown.self, Netstack.SetOption.self, Netstack.GetOption.self, Netstack.GetOptionReply.self, Netstack.GetName.self, Netstack.GetNameReply.self, Netstack.Close.self, Netstack.SetupRing.self, Netstack.Event.self]),
            .procfs: table([Procfs.ReadFile.self, Procfs.ReadFileReply.self, Procfs.ListDirectory.self, Procfs.ListDirectoryReply.self]),
        ]
    }()
}
