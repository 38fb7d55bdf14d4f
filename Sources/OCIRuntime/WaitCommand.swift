// `bulwark wait` (as runsc's): blocks until the container stops, then prints {"id":..,"exitStatus":N}.
import ArgumentParser
import Foundation

struct WaitCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Wait for a container to exit.")

    @OptionGroup var globals: GlobalOptions

    @Argument(help: "The container id.")
    var id: String

    func execute() throws(RuntimeError) -> Int32 {
        try ContainerID.validate(id)
        let dir = ContainerDirectory(root: globals.root, id: id)
        let record = try dir.readRecord()
        while ProcessTable.isAlive(pid: record.pid, startTime: record.pidStartTime) {
            usleep(10_000)
        }
        guard let exit = dir.readExit() else {
            throw RuntimeError("container \(id) stopped without an exit status (its supervisor was killed)")
        }
        print("{\"id\":\(JSONText.quote(id)),\"exitStatus\":\(exit.exitStatus)}")
        return 0
    }
}
