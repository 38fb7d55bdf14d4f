// ARP: answering requests for our addresses, resolving next hops, and the queue of packets that wait
// for a resolution (RFC 826, with retries and expiry as RFC 1122 2.3.2 asks).

extension NetworkStack {
    func handleARP(_ f: [UInt8], on ifc: NetworkInterface) {
        let a: ARPPacket
        do { a = try ARPPacket.parse(f, at: EthernetHeader.length) } catch { stats.malformed += 1; return }
        guard !a.senderMAC.isBroadcast, !a.senderMAC.isMulticast, !a.senderIP.isAny else { return }
        let key = NeighbourKey(interface: ifc.index, address: a.senderIP)
        let targetsUs = a.targetIP == ifc.address
        // RFC 826 merge: update an entry we already have; create one only when the packet is for us.
        if neighbours[key] != nil || targetsUs {
            learn(key, mac: a.senderMAC)
        }
        if targetsUs && a.operation == ARPPacket.request {
            let reply = ARPPacket(operation: ARPPacket.reply, senderMAC: ifc.mac, senderIP: ifc.address,
                                  targetMAC: a.senderMAC, targetIP: a.senderIP)
            stats.framesOut += 1
            ifc.countTx(42)   // an ARP frame: 14 + 28
            ifc.link?.transmit(reply.frame(from: ifc.mac, to: a.senderMAC))
        }
    }

    /// Records a resolution and flushes the packets that waited for it.
    func learn(_ key: NeighbourKey, mac: MACAddress) {
        var n = neighbours[key] ?? Neighbour(deadline: 0)
        n.mac = mac
        n.attempts = 0
        n.deadline = now + config.arpReachableTime
        let waiting = n.pending
        n.pending = []
        neighbours[key] = n
        let ifc = interfaces[key.interface]
        for var p in waiting {
            EthernetHeader(destination: mac, source: ifc.mac, etherType: EtherType.ipv4).write(into: &p)
            stats.framesOut += 1
            ifc.countTx(p.count)
            ifc.link?.transmit(p)
        }
    }

    func queueForResolution(_ p: [UInt8], key: NeighbourKey) {
        if var n = neighbours[key] {
            if n.pending.count >= config.arpPendingLimit { n.pending.removeFirst() }  // keep the newest
            n.pending.append(p)
            neighbours[key] = n
            return
        }
        neighbours[key] = Neighbour(mac: nil, pending: [p], attempts: 1, deadline: now + config.arpRetryInterval)
        sendARPRequest(key)
    }

    func sendARPRequest(_ key: NeighbourKey) {
        let ifc = interfaces[key.interface]
        let req = ARPPacket(operation: ARPPacket.request, senderMAC: ifc.mac, senderIP: ifc.address,
                            targetMAC: .zero, targetIP: key.address)
        stats.arpRequestsSent += 1
        stats.framesOut += 1
        ifc.countTx(42)
        ifc.link?.transmit(req.frame(from: ifc.mac, to: .broadcast))
    }

    func neighbourTimer(_ key: NeighbourKey) {
        guard var n = neighbours[key] else { return }
        if n.mac != nil {
            neighbours[key] = nil  // expired: the next packet resolves again
            return
        }
        if n.attempts >= config.arpAttempts {
            stats.droppedUnresolved += n.pending.count
            neighbours[key] = nil
            return
        }
        n.attempts += 1
        n.deadline = now + config.arpRetryInterval
        neighbours[key] = n
        sendARPRequest(key)
    }

    /// The resolved hardware address of `address` on interface `interface`, if known (for tests and tools).
    public func neighbour(_ address: IPv4Address, interface: Int) -> MACAddress? {
        neighbours[NeighbourKey(interface: interface, address: address)]?.mac
    }
}
