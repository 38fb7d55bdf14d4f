// Pre-made (host thread, stub) pairs, so a new task (fork, clone) does not wait for a stub process to
// be created: each worker thread pins itself to its CPU, creates its stub (and so is its tracer under
// ptrace, and its parent for PDEATHSIG under both platforms), then waits for a task to run. Taking a
// worker starts a replacement in the background. BULWARK_STUB_POOL=0 turns the pool off.
import CBulwark
@preconcurrency import Glibc

public final class StubWorker: @unchecked Sendable {
    let cpu: Int32
    var stub: (any PlatformStub)?
    private var job: ((any PlatformStub) -> Void)?
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()

    init(cpu: Int32) {
        self.cpu = cpu
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    /// Runs `body` with the worker's stub on the worker's thread; the thread ends when it returns.
    public func run(_ body: @escaping (any PlatformStub) -> Void) {
        pthread_mutex_lock(&mutex)
        job = body
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    fileprivate func main(memory: StubMemory, pool: StubPool) {
        _ = bw_pin_self(cpu)
        guard let s = Platform.makeStub(memory: memory) else { pool.failed(cpu); return }
        _ = bw_pin_pid(Int(s.pid), cpu)
        stub = s
        pool.ready(self)
        pthread_mutex_lock(&mutex)
        while job == nil { pthread_cond_wait(&cond, &mutex) }
        let body = job!
        job = nil
        pthread_mutex_unlock(&mutex)
        stub = nil
        body(s)
    }
}

public final class StubPool: @unchecked Sendable {
    nonisolated(unsafe) static var shared: StubPool?
    nonisolated(unsafe) static var disabled = getenv("BULWARK_STUB_POOL").map { String(cString: $0) == "0" } ?? false
    private let memory: StubMemory
    private var idle: [Int32: [StubWorker]] = [:]
    private var starting: [Int32: Int] = [:]
    private var failures = 0
    private var mutex = pthread_mutex_t()
    /// Idle workers kept per CPU.
    static let perCPU = 1

    init(memory: StubMemory) {
        self.memory = memory
        pthread_mutex_init(&mutex, nil)
    }

    /// A ready worker pinned to `cpu`, or nil (pool off, empty, or failing): the caller then makes
    /// its own thread and stub. Starts a replacement either way.
    public static func take(memory: StubMemory, cpu: Int32) -> StubWorker? {
        if disabled { return nil }
        if shared == nil { shared = StubPool(memory: memory) }
        return shared!.take(cpu: cpu)
    }

    private func take(cpu: Int32) -> StubWorker? {
        pthread_mutex_lock(&mutex)
        var w: StubWorker? = nil
        if var list = idle[cpu], !list.isEmpty {
            w = list.removeLast()
            idle[cpu] = list
        }
        let need = failures < 3 ? StubPool.perCPU - (idle[cpu]?.count ?? 0) - (starting[cpu] ?? 0) : 0
        if need > 0 { starting[cpu, default: 0] += need }
        pthread_mutex_unlock(&mutex)
        for _ in 0..<max(need, 0) { spawn(cpu: cpu) }
        return w
    }

    private func spawn(cpu: Int32) {
        let w = StubWorker(cpu: cpu)
        let ctx = Unmanaged.passRetained(WorkerStart(worker: w, pool: self))
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, 1 << 20)
        var th = pthread_t()
        let rc = pthread_create(&th, &attr, { arg in
            let start = Unmanaged<WorkerStart>.fromOpaque(arg!).takeRetainedValue()
            start.worker.main(memory: start.pool.memory, pool: start.pool)
            return nil
        }, ctx.toOpaque())
        pthread_attr_destroy(&attr)
        if rc != 0 { ctx.release(); failed(cpu); return }
        pthread_detach(th)
    }

    fileprivate func ready(_ w: StubWorker) {
        pthread_mutex_lock(&mutex)
        starting[w.cpu, default: 1] -= 1
        idle[w.cpu, default: []].append(w)
        pthread_mutex_unlock(&mutex)
    }

    fileprivate func failed(_ cpu: Int32) {
        pthread_mutex_lock(&mutex)
        starting[cpu, default: 1] -= 1
        failures += 1
        pthread_mutex_unlock(&mutex)
    }
}

private final class WorkerStart {
    let worker: StubWorker
    let pool: StubPool
    init(worker: StubWorker, pool: StubPool) { self.worker = worker; self.pool = pool }
}
