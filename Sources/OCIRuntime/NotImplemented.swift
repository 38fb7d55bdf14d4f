// Shared behaviour of subcommands that exist for compatibility but are not implemented yet: they fail
// clearly (exit status 1) instead of pretending.
func notImplemented(_ name: String) -> RuntimeError {
    RuntimeError("bulwark \(name): not implemented yet")
}
