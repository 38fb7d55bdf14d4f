// `bulwark install`: adds this executable as a runtime to Docker's daemon.json (like `runsc install`),
// so `docker run --runtime=bulwark` works after a daemon restart or reload. Arguments after `--` become
// the runtime's runtimeArgs (e.g. -- --network=none).
import ArgumentParser
import HostOS

struct InstallCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "install", abstract: "Install bulwark as a Docker runtime.")

    @OptionGroup var globals: GlobalOptions

    @Option(name: [.customLong("config-file"), .customLong("config_file")], help: "Docker's daemon configuration.")
    var configFile: String = "/etc/docker/daemon.json"

    @Option(help: "The runtime's name in Docker.")
    var runtime: String = "bulwark"

    @Option(help: "Path of the bulwark executable to register (default: this one).")
    var path: String?

    @Flag(help: "Replace an existing runtime of that name.")
    var clobber = false

    @Argument(parsing: .postTerminator, help: "Runtime arguments Docker passes before each command.")
    var runtimeArgs: [String] = []

    func execute() throws(RuntimeError) -> Int32 {
        guard !runtime.isEmpty, runtime.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw RuntimeError("--runtime \(runtime): not a valid runtime name")
        }
        let executable: String
        if let path { executable = path } else {
            do { executable = try FileSystem.currentExecutable() } catch { throw RuntimeError("readlink /proc/self/exe", error) }
        }
        guard executable.hasPrefix("/") else { throw RuntimeError("--path \(executable): must be absolute") }
        var config = try DaemonConfig.load(configFile)
        var runtimes = config.runtimes
        let entry: JSONValue = .object(["path": .string(executable),
                                        "runtimeArgs": .array(runtimeArgs.map { .string($0) })])
        if let existing = runtimes[runtime], existing != entry, !clobber {
            throw RuntimeError("runtime \"\(runtime)\" already exists in \(configFile) with other settings (use --clobber)")
        }
        runtimes[runtime] = entry
        config.runtimes = runtimes
        try config.save()
        print("runtime \"\(runtime)\" installed in \(configFile); restart or reload dockerd to use it")
        return 0
    }
}
