// procfs, second round: resource counters (getrusage, times, wait4, /proc/<pid>/{stat,status,io}),
// /proc/net and /sys/class/net from the netstack and the Sentry's AF_UNIX sockets, magic links in the
// middle of a path, /proc/<pid>/mem, and system files compared with the host's.
import Foundation
import Glibc
import Testing
import TestSupport

@Suite("procfs counters, net, mem and links", .serialized)
struct ProcfsCountersNetTests {
    static let env = ["PATH=/usr/bin:/bin"]

    func python(_ script: String, timeout: Double = 40) throws -> ProcessResult {
        let r = try Sentry.run(["/usr/bin/python3", "-c", script], env: Self.env, timeout: timeout)
        #expect(!r.timedOut, "\(r)")
        #expect(r.exitCode == 0, "\(r)")
        return r
    }

    /// Busy loops until the process has used `cpu` seconds of user time (bounded by a wall deadline),
    /// then reports what getrusage, times, wait4 and /proc show.
    @Test func getrusageTimesAndWait4ReportCPUTime() throws {
        let script = """
        import os, resource, time
        def burn(cpu):
            end = time.monotonic() + 15
            while time.monotonic() < end:
                for _ in range(200000): pass
                if resource.getrusage(resource.RUSAGE_SELF).ru_utime >= cpu: return True
            return False
        print('self', burn(0.2))
        r = resource.getrusage(resource.RUSAGE_SELF)
        t = os.times()
        print('rusage', r.ru_utime >= 0.2, r.ru_stime >= 0, r.ru_maxrss > 1000, r.ru_minflt > 0)
        print('thread', resource.getrusage(resource.RUSAGE_THREAD).ru_utime >= 0.2)
        print('times', t.user >= 0.2, t.elapsed > 0)
        print('clock', time.process_time() >= 0.2, time.thread_time() >= 0.2)
        stat = open('/proc/self/stat').read().rsplit(')', 1)[1].split()
        print('stat', int(stat[11]) >= 20, int(stat[7]) > 0)
        pid = os.fork()
        if pid == 0:
            burn(0.15)
            os._exit(7)
        _, status, ru = os.wait4(pid, 0)
        print('wait4', os.WEXITSTATUS(status), ru.ru_utime >= 0.15)
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        print('children', c.ru_utime >= 0.15, os.times().children_user >= 0.15)
        """
        let r = try python(script, timeout: 60)
        #expect(r.stdout == """
        self True
        rusage True True True True
        thread True
        times True True
        clock True True
        stat True True
        wait4 7 True
        children True True

        """, "\(r)")
    }

    @Test func statusAndIoShowSwitchesAndIOCounters() throws {
        let script = """
        import time
        def io():
            return dict(l.split(': ') for l in open('/proc/self/io').read().splitlines())
        def status():
            return dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines())
        a = io()
        data = open('/usr/bin/python3', 'rb').read(100000)
        b = io()
        print(int(b['rchar']) - int(a['rchar']) >= 100000, int(b['syscr']) > int(a['syscr']))
        for _ in range(3): time.sleep(0.01)
        s = status()
        print(int(s['voluntary_ctxt_switches']) >= 3, int(s['VmRSS'].split()[0]) > 1000,
              int(s['VmHWM'].split()[0]) >= int(s['VmRSS'].split()[0]))
        """
        let r = try python(script)
        #expect(r.stdout == "True True\nTrue True True\n", "\(r)")
    }

    /// A listening TCP socket appears in /proc/net/tcp in Linux's format, and ss and netstat parse it.
    @Test func procNetTcpShowsAListenerAndSsParsesIt() throws {
        let script = """
        import socket, subprocess
        s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(5)
        port = s.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))
        uport = u.getsockname()[1]
        six = socket.socket(socket.AF_INET6); six.bind(('::1', 0)); six.listen(1)
        sixport = six.getsockname()[1]
        tcp = open('/proc/net/tcp').read().splitlines()
        print(len(tcp[0]), tcp[0].split()[:4])
        line = [l for l in tcp[1:] if l.split()[1] == '0100007F:%04X' % port]
        print(len(line), line and line[0].split()[3], line and len(line[0]))
        ino = int(line[0].split()[9])
        import os
        # (the listing's own descriptor is closed by then, as on Linux)
        fds = [os.readlink('/proc/self/fd/' + f) for f in os.listdir('/proc/self/fd') if os.path.lexists('/proc/self/fd/' + f)]
        print('socket:[%d]' % ino in fds)
        udp = [l for l in open('/proc/net/udp').read().splitlines()[1:] if l.split()[1] == '0100007F:%04X' % uport]
        print(len(udp), udp and udp[0].split()[3])
        t6 = [l for l in open('/proc/net/tcp6').read().splitlines()[1:] if l.split()[1].endswith(':%04X' % sixport)]
        print(len(t6), t6 and t6[0].split()[1][:32])
        ss = subprocess.run(['/usr/bin/ss', '-tln'], capture_output=True, text=True)
        print(ss.returncode, any(('127.0.0.1:%d' % port) in l and 'LISTEN' in l for l in ss.stdout.splitlines()))
        ns = subprocess.run(['/usr/bin/netstat', '-tln'], capture_output=True, text=True)
        print(ns.returncode, any(('127.0.0.1:%d' % port) in l and 'LISTEN' in l for l in ns.stdout.splitlines()))
        """
        let r = try python(script)
        let native = try Sentry.native(["/usr/bin/python3", "-c", "print(len(open('/proc/net/tcp').read().splitlines()[0]))"], env: Self.env)
        let width = native.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(r.stdout == """
        \(width) ['sl', 'local_address', 'rem_address', 'st']
        1 0A \(width)
        True
        1 07
        1 00000000000000000000000001000000
        0 True
        0 True

        """, "\(r)")
    }

    @Test func procNetUnixDevRouteIfInet6AndSysClassNet() throws {
        let script = """
        import socket, os
        a = socket.socket(socket.AF_UNIX); a.bind('\\0bulwark-test'); a.listen(1)
        p, q = socket.socketpair()
        unix = open('/proc/net/unix').read().splitlines()
        print(unix[0])
        named = [l for l in unix[1:] if l.endswith(' @bulwark-test')]
        print(len(named), named and named[0].split()[3:6])
        ino = int(named[0].split()[6])
        print(os.fstat(a.fileno()).st_ino == ino, len(unix) - 1 >= 3)
        dev = open('/proc/net/dev').read().splitlines()
        print(dev[0]); print(dev[1])
        print([l.split(':')[0].strip() for l in dev[2:]])
        print(open('/proc/net/if_inet6').read())
        print(open('/proc/net/route').read().splitlines()[0].split())
        print(sorted(os.listdir('/sys/class/net')), open('/sys/class/net/lo/mtu').read().strip(),
              open('/sys/class/net/lo/address').read().strip(), open('/sys/class/net/lo/ifindex').read().strip())
        print(sorted(os.listdir('/proc/self/net')) == sorted(os.listdir('/proc/net')))
        """
        let r = try python(script)
        let nativeDev = try String(contentsOfFile: "/proc/net/dev", encoding: .utf8).split(separator: "\n")
        #expect(r.stdout == """
        Num       RefCount Protocol Flags    Type St Inode Path
        1 ['00010000', '0001', '01']
        True True
        \(nativeDev[0])
        \(nativeDev[1])
        ['lo']
        00000000000000000000000000000001 01 80 10 80       lo

        ['Iface', 'Destination', 'Gateway', 'Flags', 'RefCnt', 'Use', 'Metric', 'Mask', 'MTU', 'Window', 'IRTT']
        ['lo'] 65536 00:00:00:00:00:00 1
        True

        """, "\(r)")
    }

    @Test func magicLinksInTheMiddleOfAPath() throws {
        let script = """
        import os
        os.chdir('/etc')
        print(open('/proc/self/cwd/hostname').read() == open('/etc/hostname').read())
        print(open('/proc/self/root/etc/hostname').read() == open('/etc/hostname').read())
        d = os.open('/usr/bin', os.O_RDONLY | os.O_DIRECTORY)
        print(os.path.exists('/proc/self/fd/%d/python3' % d), sorted(os.listdir('/proc/self/fd/%d/' % d)) == sorted(os.listdir('/usr/bin')))
        print(os.stat('/proc/self/cwd/hostname').st_ino == os.stat('/etc/hostname').st_ino)
        print(os.path.realpath('/proc/self/cwd'))
        """
        let r = try python(script)
        #expect(r.stdout == "True\nTrue\nTrue True\nTrue\n/etc\n", "\(r)")
    }

    @Test func procPidMemReadsAndWritesWithPermissionChecks() throws {
        let script = """
        import ctypes, os, sys
        buf = ctypes.create_string_buffer(b'bulwark-mem-test', 32)
        addr = ctypes.addressof(buf)
        with open('/proc/self/mem', 'r+b', buffering=0) as m:
            m.seek(addr); print(m.read(16))
            m.seek(addr); m.write(b'BULWARK'); print(buf.value)
            try:
                m.seek(0x1000); m.read(8); print('read unmapped')
            except OSError as e: print('unmapped', e.errno)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            os.setuid(1000)
            try: open('/proc/1/mem', 'rb'); print('child opened init mem', flush=True)
            except OSError as e: print('child', e.errno, flush=True)
            try:
                with open('/proc/self/mem', 'rb', buffering=0) as m: m.seek(addr); print('own', m.read(7), flush=True)
            except OSError as e: print('own failed', e.errno, flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print(oct(os.stat('/proc/self/mem').st_mode))
        """
        let r = try python(script)
        #expect(r.stdout == """
        b'bulwark-mem-test'
        b'BULWARK-mem-test'
        unmapped 5
        child 13
        own b'BULWARK'
        0o100600

        """, "\(r)")
    }

    /// System files a tool reads, in the sandbox, against the host's: cpuinfo keys and CPU facts,
    /// sysctl values that are kernel constants, the shape of the admin-tunable ones.
    @Test func systemFilesMatchTheHost() throws {
        let files = ["/proc/cpuinfo", "/proc/sys/kernel/ostype", "/proc/sys/kernel/ngroups_max",
                     "/proc/sys/kernel/cap_last_cap", "/proc/sys/kernel/shmmax", "/proc/sys/kernel/shmall",
                     "/proc/sys/kernel/shmmni", "/proc/sys/vm/overcommit_memory", "/proc/sys/vm/max_map_count",
                     "/proc/sys/fs/nr_open", "/proc/sys/fs/pipe-max-size", "/proc/sys/kernel/pid_max",
                     "/proc/sys/vm/mmap_min_addr", "/proc/sys/fs/file-max", "/proc/sys/kernel/random/boot_id",
                     "/proc/sys/kernel/random/uuid", "/proc/sys/kernel/osrelease", "/proc/self/cgroup",
                     "/proc/self/io", "/proc/version", "/proc/filesystems"]
        let script = files.map { "cat \($0); echo =====" }.joined(separator: "; ")
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", script], env: Self.env, timeout: 30)
        #expect(r.exitCode == 0, "\(r)")
        let ours = r.stdout.components(separatedBy: "=====\n")
        try #require(ours.count == files.count + 1, "\(r)")
        var mine: [String: String] = [:]
        for (i, f) in files.enumerated() { mine[f] = ours[i] }
        func host(_ f: String) -> String? { try? String(contentsOfFile: f, encoding: .utf8) }
        // cpuinfo: the same keys in the same order per block, the CPU's own facts equal.
        let hostCPU = host("/proc/cpuinfo")!
        func blocks(_ s: String) -> [[(String, String)]] {
            s.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { b in
                b.split(separator: "\n").map { l in
                    let p = l.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                    return (String(p[0]), p.count > 1 ? p[1].trimmingCharacters(in: .whitespaces) : "")
                }
            }
        }
        let hb = blocks(hostCPU), ob = blocks(mine["/proc/cpuinfo"]!)
        #expect(hb.count == ob.count, "cpu count")
        let varying: Set<String> = ["cpu MHz", "bogomips"]   // the host re-measures these
        for (h, o) in zip(hb, ob) {
            #expect(h.map(\.0) == o.map(\.0), "cpuinfo keys")
            for (hk, ok) in zip(h, o) where !varying.contains(hk.0.trimmingCharacters(in: .whitespaces)) {
                #expect(hk.1 == ok.1, "cpuinfo \(hk.0)")
            }
        }
        // Kernel constants: equal to the host's.
        for f in ["/proc/sys/kernel/ostype", "/proc/sys/kernel/ngroups_max", "/proc/sys/kernel/cap_last_cap",
                  "/proc/sys/kernel/shmmax", "/proc/sys/kernel/shmall", "/proc/sys/kernel/shmmni",
                  "/proc/sys/vm/overcommit_memory", "/proc/sys/vm/max_map_count", "/proc/sys/fs/nr_open",
                  "/proc/sys/fs/pipe-max-size"] {
            #expect(mine[f] == host(f), "\(f)")
        }
        // Admin-tunable and per-boot values: one line of the same shape.
        for f in ["/proc/sys/kernel/pid_max", "/proc/sys/vm/mmap_min_addr", "/proc/sys/fs/file-max"] {
            #expect(mine[f]!.range(of: #"^\d+\n$"#, options: .regularExpression) != nil, "\(f): \(mine[f]!)")
        }
        let uuid = #"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$"#
        for f in ["/proc/sys/kernel/random/boot_id", "/proc/sys/kernel/random/uuid"] {
            #expect(host(f)!.range(of: uuid, options: .regularExpression) != nil)
            #expect(mine[f]!.range(of: uuid, options: .regularExpression) != nil, "\(f): \(mine[f]!)")
        }
        #expect(mine["/proc/sys/kernel/osrelease"]!.range(of: #"^\d+\.\d+\.\d+\S*\n$"#, options: .regularExpression) != nil)
        // cgroup v2 form "0::/path"; io: the host's seven keys in order, numeric values.
        #expect(mine["/proc/self/cgroup"]!.range(of: #"^0::/\S*\n$"#, options: .regularExpression) != nil)
        func keys(_ s: String) -> [String] { s.split(separator: "\n").map { String($0.prefix { $0 != ":" }) } }
        #expect(keys(mine["/proc/self/io"]!) == keys(host("/proc/self/io")!))
        #expect(mine["/proc/self/io"]!.split(separator: "\n").allSatisfy { UInt64($0.split(separator: " ").last!) != nil })
        // version: "Linux version R (user@host) (compiler) #..."
        #expect(mine["/proc/version"]!.range(of: #"^Linux version \S+ \(\S+@\S+\) \(.+\) #.+\n$"#, options: .regularExpression) != nil)
        // filesystems: "nodev\tname" or "\tname" lines, as the host's.
        for l in mine["/proc/filesystems"]!.split(separator: "\n") {
            #expect(l.range(of: #"^(nodev)?\t\S+$"#, options: .regularExpression) != nil, "\(l)")
        }
    }
}
