// A timerfd is freed with its last reference even while its timer is armed (session 9): the timer's
// closure held the description strongly, and the timer thread's list holds armed timers, so a
// closed timerfd (and a periodic timer's firing) lived for ever.
import Glibc
import Testing
@testable import SentryKernel

@Suite("TimerFD lifetime")
struct TimerFDLifetimeTests {
    @Test func anArmedTimerFDIsFreedWithItsLastReference() {
        weak var released: TimerFD?
        var timer: KTimer? = nil
        do {
            let tf = TimerFD(clock: CLOCK_MONOTONIC, flags: 0)
            // Armed by hand as Kernel.arm does (without starting the timer thread).
            tf.timer.deadline = timespec(tv_sec: Int.max / 2, tv_nsec: 0)
            tf.timer.interval = 1_000_000
            Kernel.timers.append(tf.timer)
            tf.timer.fire()
            #expect(tf.expirations == 1)
            released = tf
            timer = tf.timer
        }
        #expect(released == nil)
        #expect(!Kernel.timers.contains { $0 === timer })
        #expect(timer?.deadline == nil)
        timer?.fire()   // a late firing of a freed timerfd's timer does nothing
    }
}
