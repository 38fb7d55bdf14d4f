// OCI hooks: each runs as a host process with the container's state JSON on stdin, in order; a timeout
// kills it. prestart and createRuntime failures fail `create`; poststart and poststop failures are warnings.
import Foundation
import Glibc
import HostOS

enum HookRunner {
    /// The state document hooks receive (runtime-spec "state").
    static func stateJSON(id: String, status: ContainerStatus, pid: Int32, bundle: String,
                          annotations: [String: String]) -> String {
        let ann = annotations.keys.sorted().map { JSONText.quote($0) + ":" + JSONText.quote(annotations[$0]!) }
        return "{\"ociVersion\":\"\(ociVersion)\",\"id\":\(JSONText.quote(id)),\"status\":\"\(status.rawValue)\","
            + "\"pid\":\(pid),\"bundle\":\(JSONText.quote(bundle)),\"annotations\":{\(ann.joined(separator: ","))}}"
    }

    /// Runs `hooks` in order; the first failure is thrown, naming the kind and index.
    static func run(_ hooks: [OCIConfig.Hook], kind: String, state: String) throws(RuntimeError) {
        for (index, hook) in hooks.enumerated() {
            do {
                try runOne(hook, state: state)
            } catch {
                throw RuntimeError("error running \(kind) hook #\(index) (\(hook.path)): \(error.message)")
            }
        }
    }

    private static func runOne(_ hook: OCIConfig.Hook, state: String) throws(RuntimeError) {
        let input: PipeEnds
        do { input = try PipeEnds.make() } catch { throw RuntimeError("pipe", error) }
        let output: PipeEnds
        do { output = try PipeEnds.make() } catch { throw RuntimeError("pipe", error) }
        let inRead = input.read, inWrite = input.write
        let outRead = output.read, outWrite = output.write
        var options = SpawnOptions(path: hook.path, arguments: hook.args.isEmpty ? [hook.path] : hook.args)
        options.environment = hook.env ?? []
        options.stdin = inRead.rawValue
        options.stdout = outWrite.rawValue
        options.stderr = outWrite.rawValue
        let pid: pid_t
        do {
            pid = try ProcessSpawn.spawn(options)
        } catch {
            throw RuntimeError("fork/exec \(hook.path)", error)
        }
        inRead.close()
        outWrite.close()
        // The state document is far smaller than a pipe's buffer, so this write cannot block; the hook
        // may exit without reading it (EPIPE; SIGPIPE is ignored by the launcher), which is not an error.
        let bytes = Array(state.utf8)
        let inFD = inWrite.rawValue
        _ = bytes.withUnsafeBytes { buffer in try? FileIO.writeAll(inFD, buffer) }
        inWrite.close()

        let deadline = hook.timeout.map { Date().addingTimeInterval(Double($0)) }
        var collected: [UInt8] = []
        var outputOpen = true
        var scratch = [UInt8](repeating: 0, count: 4096)
        let outFD = outRead.rawValue
        var status: ExitStatus?
        while status == nil {
            if let deadline, Date() > deadline {
                try? ProcessSpawn.signal(pid, SIGKILL)
                _ = try? ProcessSpawn.wait(pid)
                throw RuntimeError("hook ran past specified timeout of \(hook.timeout!) seconds")
            }
            if outputOpen, (try? Poll.waitReadable(outFD, milliseconds: 20)) == true {
                let n = scratch.withUnsafeMutableBytes { (try? FileIO.read(outFD, into: $0)) ?? 0 }
                if n == 0 { outputOpen = false } else if collected.count < 65536 { collected += scratch[0..<n] }
            } else if !outputOpen {
                usleep(5000)
            }
            do { status = try ProcessSpawn.poll(pid) } catch { throw RuntimeError("waitpid", error) }
        }
        // What the hook wrote just before exiting (bounded: only what is already there).
        while outputOpen, (try? Poll.waitReadable(outFD, milliseconds: 0)) == true, collected.count < 65536 {
            let n = scratch.withUnsafeMutableBytes { (try? FileIO.read(outFD, into: $0)) ?? 0 }
            if n == 0 { break }
            collected += scratch[0..<n]
        }
        outRead.close()
        guard status == .exited(0) else {
            let text = String(decoding: collected, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw RuntimeError("\(status!)" + (text.isEmpty ? "" : ", output: \(text)"))
        }
    }
}
