// `bulwark-sentry run`: parses the launcher's command line, loads PROGRAM from --rootfs and runs it
// as init (pid 1) until it exits; returns its exit status (128+N when killed by signal N).
import CBulwark
@preconcurrency import Glibc
import SentryLoader
import SentryMemory
import SentryPlatform

public enum SentryCommand {
    /// Host signals the Sentry forwards to the application's init (e.g. the launcher's `kill`).
    static let forwarded: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

    /// Blocks the forwarded signals in every Sentry thread (set before any thread starts, so all
    /// inherit it) and forwards them from one sigwait thread to pid 1.
    static func startSignalForwarder() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in forwarded { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        var th = pthread_t()
        pthread_create(&th, nil, { _ in
            var set = sigset_t()
            sigemptyset(&set)
            for s in SentryCommand.forwarded { sigaddset(&set, s) }
            while true {
                var sig: Int32 = 0
                if sigwait(&set, &sig) != 0 { continue }
                // A signal during start-up waits (bounded) for init to exist instead of being lost.
                var waited = 0
                while (Kernel.shared == nil || !Kernel.shared!.hasInit) && waited < 1000 { usleep(10_000); waited += 1 }
                guard let k = Kernel.shared else { continue }
                k.lock()
                if let initTG = k.threadGroups[1] { k.sendSignal(to: initTG, SigInfo(signo: sig, code: 0)) }
                k.unlock()
            }
        }, nil)
        pthread_detach(th)
    }

    static let usage = """
    usage: bulwark-sentry run --rootfs DIR [--cwd DIR] [--env K=V]... [--hostname NAME] [--uid N] [--gid N]
                              [--groups G,...] [--caps B,E,I,P,A] [--rlimit NAME:SOFT:HARD]... [--umask OCTAL]
                              [--no-new-privileges] [--app-seccomp RULES] [--tmpfs DEST[:OPTIONS]]...
                              [--sysctl KEY=VALUE]... [--readonly-path PATH]...
                              [--strace] [--terminal] [--log FILE] [--mount SRC:DST[:ro]]... [--overlay2 root:self|none] [--gofer-timeout SECONDS]
                              [--gofer-fd N [--gofer-mount DEST[:ro]]...] [--procfs-fd N] [--platform ptrace|systrap]
                              [--fault SPEC]... [--no-seccomp] [--keep-caps] -- PROGRAM [ARG...]

    """

    static func fail(_ msg: String, _ code: Int32) -> Int32 {
        fputs("bulwark-sentry: \(msg)\n", stderr)
        return code
    }

    public static func main(_ args: [String]) -> Int32 {
        guard args.count >= 2, args[1] == "run" else {
            fputs(usage, stderr)
            return 2
        }
        var rootfs: String? = nil
        var cfgCwd = "/", env: [String] = [], hostname = "bulwark", uid: UInt32 = 0, gid: UInt32 = 0
        var strace = false, logFile: String? = nil
        var goferFD: Int32? = nil, goferMounts: [(destination: String, readOnly: Bool)] = [], binds: [BindMount] = [], overlay = true
        var controlFD: Int32? = nil
        var goferTimeoutMilliseconds = 10_000
        var procfsFD: Int32? = nil
        var faultSpecs: [String] = []
        var initProcess = InitProcessOptions()
        var appSeccompText: String? = nil
        var tmpfsMounts: [(destination: String, options: [String])] = []
        var sysctls: [(key: String, value: String)] = [], readonlyPaths: [String] = []
        var i = 2
        var program: [String] = []
        func value() -> String? { i += 1; return i < args.count ? args[i] : nil }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--rootfs": guard let v = value() else { return fail("--rootfs needs a value", 2) }; rootfs = v
            case "--cwd": guard let v = value() else { return fail("--cwd needs a value", 2) }; cfgCwd = v
            case "--env":
                guard let v = value(), v.contains("=") else { return fail("--env needs K=V", 2) }
                env.append(v)
            case "--hostname": guard let v = value() else { return fail("--hostname needs a value", 2) }; hostname = v
            case "--uid": guard let v = value(), let n = UInt32(v) else { return fail("--uid needs a number", 2) }; uid = n
            case "--gid": guard let v = value(), let n = UInt32(v) else { return fail("--gid needs a number", 2) }; gid = n
            case "--strace": strace = true
            case "--groups", "--caps", "--rlimit", "--umask": if let e = initProcess.parse(a, value()) { return fail(e, 2) }   // InitProcessOptions.swift
            case "--no-new-privileges": initProcess.noNewPrivileges = true
            case "--sysctl":
                guard let v = value(), let eq = v.firstIndex(of: "="), eq != v.startIndex else { return fail("--sysctl needs KEY=VALUE", 2) }
                sysctls.append((String(v[..<eq]), String(v[v.index(after: eq)...])))
            case "--readonly-path":
                guard let v = value(), v.hasPrefix("/") else { return fail("--readonly-path needs an absolute path", 2) }
                readonlyPaths.append(v)
            case "--tmpfs":
                guard let v = value(), v.hasPrefix("/") else { return fail("--tmpfs needs DEST[:OPTIONS] with an absolute DEST", 2) }
                let parts = v.split(separator: ":", maxSplits: 1)
                tmpfsMounts.append((String(parts[0]), parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : []))
            case "--app-seccomp": guard let v = value() else { return fail("--app-seccomp needs RULES", 2) }; appSeccompText = v   // AppSeccomp.swift
            case "--terminal": ConsoleBridge.initTerminal = true   // ConsoleBridge.swift
            case "--netstack-fd", "--network", "--interface": if let e = NetworkOptions.parse(a, value()), !e.isEmpty { return fail(e, 2) }   // NetstackConnection.swift
            case "--log": guard let v = value() else { return fail("--log needs a value", 2) }; logFile = v
            case "--platform": guard let v = value(), let k = PlatformKind(rawValue: v) else { return fail("--platform needs ptrace or systrap", 2) }; Platform.kind = k
            case "--gofer-fd": guard let v = value(), let n = Int32(v), n >= 0 else { return fail("--gofer-fd needs a descriptor number", 2) }; goferFD = n
            case "--gofer-mount":
                guard let v = value(), v.hasPrefix("/") else { return fail("--gofer-mount needs DEST[:ro]", 2) }
                goferMounts.append(v.hasSuffix(":ro") ? (String(v.dropLast(3)), true) : (v, false))
            case "--mount":
                guard let v = value() else { return fail("--mount needs SRC:DST[:ro]", 2) }
                let p = v.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard p.count == 2 || (p.count == 3 && (p[2] == "ro" || p[2] == "rw")), !p[0].isEmpty, p[1].hasPrefix("/") else {
                    return fail("--mount: '\(v)' is not SRC:DST[:ro]", 2)
                }
                binds.append(BindMount(source: p[0], destination: p[1], readOnly: p.count == 3 && p[2] == "ro"))
            case "--gofer-timeout":   // seconds (decimals allowed) the Sentry waits for a gofer reply
                guard let v = value(), let s = Double(v), s >= 0.001, s <= 3600 else { return fail("--gofer-timeout needs seconds between 0.001 and 3600", 2) }
                goferTimeoutMilliseconds = Int(s * 1000)
            case "--overlay2":
                guard let v = value(), v == "root:self" || v == "none" else { return fail("--overlay2 needs root:self or none", 2) }
                overlay = v == "root:self"
            case "--control-fd": guard let v = value(), let n = Int32(v), n >= 0 else { return fail("--control-fd needs a descriptor", 2) }; controlFD = n
            case "--procfs-fd": guard let v = value(), let n = Int32(v), n >= 0, fcntl(n, F_GETFD) >= 0 else { return fail("--procfs-fd needs an open descriptor", 2) }; procfsFD = n
            case "--fault": guard let v = value() else { return fail("--fault needs a SPEC", 2) }; faultSpecs.append(v)
            case "--no-seccomp": SentrySeccomp.mode = .off   // debugging only (SentrySeccomp.swift)
            case "--keep-caps": SentryCapabilities.keep = true   // debugging only (SentryCapabilities.swift)
            case "--":
                program = Array(args[(i + 1)...])
                i = args.count
                continue
            default:
                return fail("unknown option \(a)\n" + usage, 2)
            }
            i += 1
        }
        guard rootfs != nil || goferFD != nil else { return fail("--rootfs (or --gofer-fd) is required", 2) }
        guard !program.isEmpty else { return fail("no PROGRAM given after --", 2) }
        if let rootfs, goferFD == nil {
            guard Glibc.access(rootfs + "/.", F_OK) == 0 else { return fail("bad rootfs \(rootfs): cannot open directory", 127) }
        }
        if !cfgCwd.hasPrefix("/") { return fail("--cwd must be absolute", 2) }
        let (syscallFaults, faultError) = SyscallFaults.parse(faultSpecs)
        if let faultError { return fail(faultError, 2) }
        var appSeccomp: AppSeccomp? = nil
        if let appSeccompText {
            let (f, e) = AppSeccomp.parse(appSeccompText)
            if let e { return fail(e, 2) }
            appSeccomp = f
        }

        var config = SentryConfig(rootfs: rootfs ?? "/")
        config.cwd = cfgCwd
        config.goferFD = goferFD
        config.goferMounts = goferMounts
        config.bindMounts = binds
        config.overlay = overlay
        config.goferTimeoutMilliseconds = goferTimeoutMilliseconds
        config.env = env
        config.hostname = hostname
        config.uid = uid
        config.gid = gid
        config.initProcess = initProcess
        config.tmpfsMounts = tmpfsMounts
        config.sysctls = sysctls
        config.readonlyPaths = readonlyPaths
        config.strace = strace
        config.procfsFD = procfsFD
        if let logFile {
            let fd = open(logFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 { return fail("cannot open log file \(logFile)", 2) }
            config.logFD = fd
        }

        // Before any other thread exists, so every Sentry thread inherits the blocked set.
        bw_capdrop_prepare()   // ...and the capability drop's signal unblocked (SentryCapabilities.swift)
        startSignalForwarder()
        let fs: VFS
        switch VFSBoot.build(config) {
        case .failure(let e): return fail(e.message, 127)
        case .success(let v): fs = v
        }
        // Resolve PROGRAM inside the rootfs like a shell would.
        let name = program[0]
        var path: String? = nil
        if name.contains("/") {
            let p = name.hasPrefix("/") ? name : config.cwd + "/" + name
            path = p
        } else {
            let pathVar = env.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
                ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            for dir in pathVar.split(separator: ":") {
                let cand = String(dir) + "/" + name
                var st = stat()
                if fs.stat(cand, followLinks: true, &st) == 0 && st.st_mode & S_IFMT == S_IFREG {
                    path = cand
                    break
                }
            }
        }
        guard let path else { return fail("\(name): command not found", 127) }
        var st = stat()
        let sr = fs.stat(path, followLinks: true, &st)
        if sr == -ENOENT || sr == -ENOTDIR { return fail("\(name): No such file or directory", 127) }
        if sr < 0 { return fail("\(name): cannot access (errno \(-sr))", 126) }
        if st.st_mode & S_IFMT != S_IFREG || st.st_mode & 0o111 == 0 { return fail("\(name): Permission denied", 126) }

        signal(SIGPIPE, SIG_IGN)
        let setup = Platform.setUp()
        if setup != 0 { return fail("cannot map the stub page (errno \(-setup))", 125) }
        guard let memory = MemoryFile() else { return fail("cannot create the memory file", 125) }
        VDSOMapping.install(memory: memory)

        var req = LoadRequest(path: path, argv: program, envp: env)
        req.uid = uid
        req.gid = gid
        let image: LoadedImage
        switch ELFLoader.load(req, file: memory, open: { p in fs.openForExec(nil, at: fs.root, p.hasPrefix("/") ? p : config.cwd + "/" + p) }) {
        case .success(let im): image = im
        case .failure(.errno(let e)):
            if e == ENOEXEC { return fail("\(name): Exec format error", 126) }
            if e == ENOENT { return fail("\(name): No such file or directory (or its interpreter)", 127) }
            return fail("\(name): cannot load (errno \(e))", 126)
        }
        let kernel = Kernel(config: config, memory: memory, vfs: fs)
        // linux.sysctl: the values /proc/sys shows and the sandbox reads (ProcfsState.tunables).
        for (key, value) in config.sysctls {
            let name = String(key.map { $0 == "." ? "/" : $0 })
            switch name {
            case "kernel/hostname": kernel.hostname = value
            case "kernel/domainname": kernel.domainname = value
            default: kernel.procfs.tunables[name] = value
            }
        }
        Kernel.shared = kernel
        kernel.faults = syscallFaults
        kernel.appSeccomp = appSeccomp
        Terminals.register(kernel)   // /dev/ptmx, /dev/tty, /dev/pts (PseudoTerminal.swift)
        kernel.installProcfs(channelFD: config.procfsFD)
        NetworkOptions.startHostNetstack(kernel)   // --network host: before seccomp (NetstackConnection.swift)
        NetworkOptions.openLink(log: { kernel.log($0) })   // --network sandbox, own netstack: its link, before the drop (NetstackLinkOpen.swift)
        if !SentryCapabilities.drop(log: { kernel.log($0) }) { return fail("cannot drop the Sentry's host capabilities", 125) }   // SentryCapabilities.swift
        if !SentrySeccomp.install(spawnsServices: config.procfsFD == nil || NetworkOptions.netstackFD == nil, log: { kernel.log($0) }) { return fail("cannot install the seccomp policy", 125) }   // SentrySeccomp.swift
        kernel.startInit(image: image)
        if let controlFD { ControlServer.start(fd: controlFD, kernel: kernel) }
        let status = kernel.waitForInit()
        NetstackConnection.flushAtExit()   // closes still queued reach the netstack (peers get FIN)
        ConsoleBridge.drainAll(kernel)   // the terminal's last output reaches the host
        fflush(stdout)
        return status
    }
}
