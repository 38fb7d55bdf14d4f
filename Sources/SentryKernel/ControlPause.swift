// Pause and resume for the Control channel (runc pause/resume). Pausing takes the kernel lock on a
// dedicated thread and kicks every task out of application code: each task then stops at its next
// kernel entry (a system call, a fault or the kick itself) waiting for the lock, and tasks blocked in
// the kernel cannot wake. Resume releases the lock. While paused, control requests that need the
// kernel run on the pausing thread (it holds the lock), so `ps` and `kill` keep working.
import Glibc

final class Pauser {
    let kernel: Kernel
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    /// True while the pausing thread holds the kernel lock (guarded by `mutex`).
    private var frozen = false
    private var resumeRequested = false
    private var work: [WorkItem] = []

    private final class WorkItem {
        let body: () -> Void
        var done = false
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    private var frozenTasks: UInt32 = 0

    init(kernel: Kernel) {
        self.kernel = kernel
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    var isPaused: Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return frozen
    }

    /// Freezes the sandbox; returns the number of tasks frozen. Idempotent.
    func pause() -> UInt32 {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if frozen { return frozenTasks }
        resumeRequested = false
        spawnThread { self.holdKernel() }
        while !frozen { pthread_cond_wait(&cond, &mutex) }
        return frozenTasks
    }

    /// Releases a paused sandbox. Idempotent.
    func resume() {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard frozen else { return }
        resumeRequested = true
        pthread_cond_broadcast(&cond)
        while frozen { pthread_cond_wait(&cond, &mutex) }
    }

    /// Runs `body` with the kernel lock held: directly, or on the pausing thread while paused.
    func withKernel(_ body: @escaping () -> Void) {
        pthread_mutex_lock(&mutex)
        if frozen {
            let item = WorkItem(body)
            work.append(item)
            pthread_cond_broadcast(&cond)
            while !item.done { pthread_cond_wait(&cond, &mutex) }
            pthread_mutex_unlock(&mutex)
            return
        }
        pthread_mutex_unlock(&mutex)
        kernel.lock()
        body()
        kernel.unlock()
    }

    /// The pausing thread: holds the kernel lock until resume, serving `withKernel` work meanwhile.
    private func holdKernel() {
        kernel.lock()
        var count: UInt32 = 0
        for (_, task) in kernel.tasks where !task.exited {
            task.kick()
            count += 1
        }
        pthread_mutex_lock(&mutex)
        frozenTasks = count
        frozen = true
        pthread_cond_broadcast(&cond)
        while true {
            while work.isEmpty && !resumeRequested { pthread_cond_wait(&cond, &mutex) }
            if !work.isEmpty {
                let items = work
                work.removeAll()
                // Run without our mutex: the work may ask isPaused.
                pthread_mutex_unlock(&mutex)
                for item in items { item.body() }
                pthread_mutex_lock(&mutex)
                for item in items { item.done = true }
                pthread_cond_broadcast(&cond)
                continue
            }
            break
        }
        frozen = false
        resumeRequested = false
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
        kernel.unlock()
    }
}
