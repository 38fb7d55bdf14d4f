// `bulwark uninstall`: accepted for runc/runsc compatibility; not implemented yet.
import ArgumentParser

struct UninstallCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "uninstall", abstract: "Remove bulwark from Docker's runtimes (not implemented yet).")

    @OptionGroup var globals: GlobalOptions

    /// Everything else on the command line is accepted so the error below is the one reported.
    @Argument(parsing: .allUnrecognized) var rest: [String] = []

    func execute() throws(RuntimeError) -> Int32 {
        throw notImplemented("uninstall")
    }
}
