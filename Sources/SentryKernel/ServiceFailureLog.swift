// One log line when a service the Sentry depends on fails (issue 8: the log must name the failed
// service). Called by the service connections when they give up on a channel; the launcher's
// `--debug-log` Sentry log and the Sentry's stderr carry it.
enum ServiceFailureLog {
    static func report(service: String, _ consequence: String) {
        Kernel.shared?.log("bulwark-sentry: service \(service) (bulwark-\(service)) failed: \(consequence)\n")
    }
}
