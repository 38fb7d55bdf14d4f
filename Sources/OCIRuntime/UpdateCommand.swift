// `bulwark update`: accepted for runc/runsc compatibility; not implemented yet.
import ArgumentParser

struct UpdateCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "Update container resource limits (not implemented yet).")

    @OptionGroup var globals: GlobalOptions

    /// Everything else on the command line is accepted so the error below is the one reported.
    @Argument(parsing: .allUnrecognized) var rest: [String] = []

    func execute() throws(RuntimeError) -> Int32 {
        throw notImplemented("update")
    }
}
