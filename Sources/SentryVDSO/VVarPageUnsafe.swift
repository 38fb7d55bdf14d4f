// Writes the timekeeper's parameters into a vvar page: raw stores into shared memory the guest's vDSO
// reads concurrently, under the seqlock described in tools/vdso/vvar.h.
import Synchronization

extension VDSOTimekeeper {
    /// Publishes the current parameters to the vvar page at `page` (the Sentry's own mapping of it).
    ///
    /// SAFETY: `page` must be 8-byte aligned and point to at least `VVarLayout.size` writable bytes that
    /// stay mapped for the call, and this must be the page's only writer (one Sentry thread). Readers are
    /// the vDSO in application processes: they retry while the seqcount is odd or changed under them.
    /// On x86-64, aligned 4- and 8-byte stores are single, untorn stores and stores become visible in
    /// program order; the release fences keep the compiler from moving the field stores outside the two
    /// seqcount stores.
    public func publish(to page: UnsafeMutableRawPointer) {
        precondition(UInt(bitPattern: page) % 8 == 0, "vvar page must be 8-byte aligned")
        let seq = page.load(fromByteOffset: VVarLayout.seq, as: UInt32.self)
        let writing = (seq &+ 1) | 1
        page.storeBytes(of: writing, toByteOffset: VVarLayout.seq, as: UInt32.self)
        atomicMemoryFence(ordering: .releasing)
        page.storeBytes(of: mode.rawValue, toByteOffset: VVarLayout.mode, as: UInt32.self)
        page.storeBytes(of: tscBase, toByteOffset: VVarLayout.tscBase, as: UInt64.self)
        page.storeBytes(of: mult, toByteOffset: VVarLayout.mult, as: UInt64.self)
        page.storeBytes(of: Self.shift, toByteOffset: VVarLayout.shift, as: UInt32.self)
        page.storeBytes(of: coarseResolutionNs, toByteOffset: VVarLayout.coarseResolutionNs, as: UInt32.self)
        page.storeBytes(of: monotonicBaseNs, toByteOffset: VVarLayout.monoBaseNs, as: Int64.self)
        page.storeBytes(of: realtimeOffsetNs, toByteOffset: VVarLayout.realtimeOffsetNs, as: Int64.self)
        page.storeBytes(of: boottimeOffsetNs, toByteOffset: VVarLayout.boottimeOffsetNs, as: Int64.self)
        page.storeBytes(of: taiOffsetNs, toByteOffset: VVarLayout.taiOffsetNs, as: Int64.self)
        page.storeBytes(of: getcpuMode.rawValue, toByteOffset: VVarLayout.getcpuMode, as: UInt32.self)
        page.storeBytes(of: Int32(0), toByteOffset: VVarLayout.timezoneMinutesWest, as: Int32.self)
        page.storeBytes(of: Int32(0), toByteOffset: VVarLayout.timezoneDSTTime, as: Int32.self)
        atomicMemoryFence(ordering: .releasing)
        page.storeBytes(of: writing &+ 1, toByteOffset: VVarLayout.seq, as: UInt32.self)
    }
}
