// Pre-made (host thread, stub) pairs, so a new task (fork, clone) does not wait for a stub process to
// be created: each worker thread pins itself to its CPU, creates its stub (and so is its tracer under
// ptrace, and its parent for PDEATHSIG under both platforms), then waits for a task to run. Taking a
// worker starts a replacement in the background. When a task ends with its stub intact, its thread and
// stub go back to the pool (`recycle`): the stub's application mappings are dropped and the pair waits
// for the next task of that CPU, so a fork+exit loop creates no host process at all.
// BULWARK_STUB_POOL=0 turns the pool (and recycling) off.
import CBulwark
@preconcurrency import Glibc

public final class StubWorker: @unchecked Sendable {
    let cpu: Int32
    var stub: (any PlatformStub)?
    private var job: Job?
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()

    init(cpu: Int32) {
        self.cpu = cpu
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    /// Runs `body` with the worker's stub on the worker's thread. `body` returns the stub when it may
    /// serve another task (see StubPool.recycle), else nil; the thread ends when it is not reused.
    public func run(_ body: @escaping (any PlatformStub) -> (any PlatformStub)?) {
        pthread_mutex_lock(&mutex)
        job = body
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    fileprivate func main(memory: StubMemory, pool: StubPool) {
        _ = bw_pin_self(cpu)
        guard let s = Platform.makeStub(memory: memory) else { pool.failed(cpu); return }
        s.place(cpu: cpu)
        serve(s, pool: pool, fresh: true)
    }

    /// Offers `s` to the pool and runs tasks with it until one ends without handing it back.
    fileprivate func serve(_ first: any PlatformStub, pool: StubPool, fresh: Bool) {
        var s = first
        var isFresh = fresh
        while true {
            stub = s
            pool.ready(self, fresh: isFresh)
            isFresh = false
            pthread_mutex_lock(&mutex)
            while job == nil { pthread_cond_wait(&cond, &mutex) }
            let body = job!
            job = nil
            pthread_mutex_unlock(&mutex)
            stub = nil
            guard let back = body(s) else { return }
            guard pool.wantsRecycled(cpu), back.prepareForReuse() else { back.destroy(); return }
            s = back
        }
    }
}

private typealias Job = (any PlatformStub) -> (any PlatformStub)?

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

    fileprivate func ready(_ w: StubWorker, fresh: Bool) {
        pthread_mutex_lock(&mutex)
        if fresh { starting[w.cpu, default: 1] -= 1 }
        idle[w.cpu, default: []].append(w)
        pthread_mutex_unlock(&mutex)
    }

    /// Idle (thread, stub) pairs kept per CPU at most, counting recycled ones.
    static let maxIdlePerCPU = 4

    fileprivate func wantsRecycled(_ cpu: Int32) -> Bool {
        pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }
        return (idle[cpu]?.count ?? 0) + (starting[cpu] ?? 0) < StubPool.maxIdlePerCPU
    }

    /// Called on the thread of a task that ended with `stub` still usable (the thread is pinned to
    /// `cpu` and created the stub, as pool workers do): the pair joins the pool and this call serves
    /// tasks until the pair is not reused; the stub is destroyed then. Returns when the thread may end.
    public static func recycle(_ stub: any PlatformStub, cpu: Int32) {
        guard !disabled, let pool = shared, pool.wantsRecycled(cpu), stub.prepareForReuse() else {
            stub.destroy()
            return
        }
        StubWorker(cpu: cpu).serve(stub, pool: pool, fresh: false)
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
