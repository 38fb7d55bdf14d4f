// The launcher hands config.json's org.bulwark.gofer-timeout annotation to the Sentry as
// --gofer-timeout (the Sentry checks the value; see GoferTimeoutTests for its effect).
import Foundation
@testable import OCIRuntime
import Testing

@Suite("bulwark gofer timeout annotation")
struct GoferTimeoutAnnotationTests {
    func arguments(annotations: String) throws -> [String] {
        let json = """
        {"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
         "root":{"path":"rootfs"},"annotations":{\(annotations)}}
        """
        let config = try OCIConfig.parse(Data(json.utf8))
        let process = try #require(config.process)
        return ContainerLauncher.sentryArguments(sentry: "/s", config: config, process: process, rootfs: "/r",
                                                 id: "c", globals: try GlobalOptions.parse([]))
    }

    @Test func annotationBecomesTheSentryFlag() throws {
        let args = try arguments(annotations: "\"org.bulwark.gofer-timeout\":\"2.5\"")
        let i = try #require(args.firstIndex(of: "--gofer-timeout"))
        #expect(args[i + 1] == "2.5")
        let end = try #require(args.firstIndex(of: "--"))
        #expect(i < end)
    }

    @Test func noAnnotationKeepsTheDefault() throws {
        #expect(!(try arguments(annotations: "")).contains("--gofer-timeout"))
    }
}
