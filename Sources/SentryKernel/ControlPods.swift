// Pods: the other containers of a pod run in the pod sandbox's Sentry (the CRI annotations
// io.kubernetes.cri.container-type = container and io.kubernetes.cri.sandbox-id = <sandbox id>).
// The launcher sends StartContainer with the member's id and process; the Sentry starts it like an
// exec (a new session with no parent) and remembers the sessions that belong to that container:
// its init's and those of processes later exec'd into it. Signal (pid 0 = its init, `all` = every
// process of its sessions) and ListProcesses then address only that container. The connection that
// sent StartContainer is the member's lifeline: the launcher's waiter keeps it open and, when it
// closes, every process of the member is killed. What the sandbox's own container id addresses is
// unchanged (the whole sandbox).
//
// A member has a root file system of its own when StartContainer carries its gofer's channel
// (rootGofer): its bundle's rootfs, a mount tree outside the sandbox's (VFSPodRoot.swift) that its
// init, everything it forks and every process exec'd into it have as their root. Without one it runs
// over the sandbox's root.
//
// Not done: its own hostname and pid namespace; pause/resume act on the whole pod.
import Glibc
import IPC
import Protocol

extension ControlServer {
    /// StartContainer: the member's init, with `stdio` (taken over). Returns its pid.
    func startMember(_ request: Control.StartContainer, stdio: [Int32], rootGofer: Int32?,
                     lifeline: Channel) throws(ControlFailure) -> Int32 {
        func refuse(_ errno: Int32, _ text: String) -> ControlFailure {
            for fd in stdio where fd >= 0 { close(fd) }
            if let rootGofer { close(rootGofer) }
            return ControlFailure(errno, text)
        }
        guard !request.containerID.isEmpty else { throw refuse(EINVAL, "StartContainer: no container id") }
        guard request.rootfsMountID == 0 else {
            throw refuse(EINVAL, "StartContainer: the root is the gofer's attachment 0, not \(request.rootfsMountID)")
        }
        var exists = false
        pauser.withKernel { exists = self.members[request.containerID] != nil }
        if exists { throw refuse(EEXIST, "container \(request.containerID) was already started in this sandbox") }
        var root: VLocation? = nil
        if let rootGofer {
            let binds = request.goferMounts.map { m in
                m.hasSuffix(":ro") ? (destination: String(m.dropLast(3)), readOnly: true) : (destination: m, readOnly: false)
            }
            var built: KResult<VLocation> = .failure(EIO)
            pauser.withKernel {
                built = self.kernel.vfs.makePodRoot(channelFD: rootGofer, binds: binds, overlay: self.kernel.config.overlay) { text in
                    self.kernel.log("bulwark-sentry: container \(request.containerID): \(text)\n")
                }
            }
            switch built {
            case .failure(let e):
                for fd in stdio where fd >= 0 { close(fd) }
                throw ControlFailure(e, "StartContainer: the root file system of \(request.containerID) (its gofer) failed: errno \(e)")
            case .success(let r): root = r
            }
        }
        let pid: Int32
        do { pid = try exec(request.process, stdio: stdio, root: root) } catch {
            if let root { pauser.withKernel { self.kernel.vfs.dropPodRoot(root) } }
            throw error
        }
        pauser.withKernel {
            self.members[request.containerID] = [pid]
            self.memberRoots[request.containerID] = root
            self.lifelines[ObjectIdentifier(lifeline)] = request.containerID
        }
        return pid
    }

    /// The root processes exec'd into `container` get: a member's own, else the sandbox's (nil).
    func memberRoot(_ container: String) -> VLocation? {
        var root: VLocation? = nil
        pauser.withKernel { root = self.memberRoots[container] }
        return root
    }

    /// A connection closed. If it started a member, the launcher's waiter (that container's pid-file
    /// process) is gone, whether the container ended or the waiter was killed (`kill ... KILL`,
    /// `delete`): like a pid namespace whose init died, every process of the member is killed.
    func connectionEnded(_ channel: Channel) {
        let key = ObjectIdentifier(channel)
        pauser.withKernel {
            guard let container = self.lifelines.removeValue(forKey: key) else { return }
            for tg in self.memberGroups(container) { self.kernel.sendSignal(to: tg, SigInfo(signo: SIGKILL)) }
            self.members[container] = nil   // the id may be used again (after delete)
            if let root = self.memberRoots.removeValue(forKey: container) { self.kernel.vfs.dropPodRoot(root) }
        }
    }

    /// An exec into a member container makes its session part of that container. Kernel lock not held.
    func noteExec(container: String, pid: Int32) {
        pauser.withKernel {
            if self.members[container] != nil { self.members[container]!.append(pid) }
        }
    }

    func isMember(_ container: String) -> Bool {
        var known = false
        pauser.withKernel { known = self.members[container] != nil }
        return known
    }

    /// The live processes of member `container`: those in its sessions. Kernel lock held.
    private func memberGroups(_ container: String) -> [ThreadGroup] {
        let sessions = Set(members[container] ?? [])
        return kernel.threadGroups.values.filter { sessions.contains($0.sid) && !$0.zombie }
    }

    /// Signal addressed to a member container: pid 0 is its init; `all` every process of it.
    func signalMember(_ container: String, pid: Int32, signo: Int32, all: Bool) throws(ControlFailure) -> UInt32 {
        guard signo > 0 && signo <= 64 else { throw ControlFailure(EINVAL, "invalid signal \(signo)") }
        var delivered: UInt32 = 0
        var missing = false
        pauser.withKernel {
            let groups = self.memberGroups(container)
            var targets: [ThreadGroup]
            if all {
                targets = groups
            } else {
                let want = pid == 0 ? (self.members[container]?.first ?? -1) : pid
                targets = groups.filter { $0.pid == want }
                if targets.isEmpty, pid != 0, let tg = self.kernel.threadGroups[pid], !tg.zombie { targets = [tg] }
                missing = targets.isEmpty
            }
            for tg in targets.sorted(by: { $0.pid > $1.pid }) {
                self.kernel.sendSignal(to: tg, SigInfo(signo: signo, code: 0 /* SI_USER */))
                delivered += 1
            }
        }
        if missing { throw ControlFailure(ESRCH, "no process \(pid) in container \(container)") }
        return delivered
    }

    /// ListProcesses for a member container: only its processes.
    func listMember(_ container: String) -> [Control.ProcessInfo] {
        var pids = Set<Int32>()
        pauser.withKernel { pids = Set(self.memberGroups(container).map(\.pid)) }
        return listProcesses().filter { pids.contains($0.pid) }
    }

    /// SyscallStats: the counters (SyscallCountsUnsafe.swift).
    func syscallStats() -> Control.SyscallStatsReply {
        var snap: (counts: [(number: UInt32, count: UInt64)], total: UInt64) = ([], 0)
        pauser.withKernel { snap = SyscallCounts.snapshot() }
        return Control.SyscallStatsReply(counts: snap.counts.map { Control.SyscallCount(number: $0.number, count: $0.count) },
                                         total: snap.total)
    }
}
