// `bulwark features`: what this runtime understands, in the runtime-spec "features" JSON format. Lists only
// what the launcher really accepts today (see docs/ARCHITECTURE.md, "Launcher", for what is enforced).
import ArgumentParser

struct FeaturesCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "features", abstract: "Show the runtime's features as JSON.")

    @OptionGroup var globals: GlobalOptions

    func execute() throws(RuntimeError) -> Int32 {
        func list(_ items: [String]) -> String { "[" + items.map { JSONText.quote($0) }.joined(separator: ",") + "]" }
        let namespaces = OCIConfig.namespaceTypes.sorted()
        print("""
        {"ociVersionMin":"1.0.0","ociVersionMax":"\(ociVersion)",\
        "hooks":\(list(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])),\
        "mountOptions":\(list(["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec"])),\
        "linux":{"namespaces":\(list(namespaces)),"capabilities":\(list(OCIConfig.capabilityList)),\
        "cgroup":{"v1":false,"v2":false,"systemd":false,"systemdUser":false},\
        "seccomp":{"enabled":false},"apparmor":{"enabled":false},"selinux":{"enabled":false}},\
        "annotations":{"org.bulwark.sandbox":"user-space kernel (ptrace platform)"}}
        """)
        return 0
    }
}
