// `bulwark uninstall`: removes the runtime entry `install` added to Docker's daemon.json.
import ArgumentParser

struct UninstallCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "uninstall", abstract: "Remove bulwark from Docker's runtimes.")

    @OptionGroup var globals: GlobalOptions

    @Option(name: [.customLong("config-file"), .customLong("config_file")], help: "Docker's daemon configuration.")
    var configFile: String = "/etc/docker/daemon.json"

    @Option(help: "The runtime's name in Docker.")
    var runtime: String = "bulwark"

    func execute() throws(RuntimeError) -> Int32 {
        var config = try DaemonConfig.load(configFile)
        var runtimes = config.runtimes
        guard runtimes.removeValue(forKey: runtime) != nil else {
            throw RuntimeError("runtime \"\(runtime)\" not found in \(configFile)")
        }
        if runtimes.isEmpty { config.top["runtimes"] = nil } else { config.runtimes = runtimes }
        try config.save()
        print("runtime \"\(runtime)\" removed from \(configFile)")
        return 0
    }
}
