// Concrete entry points for each integer type, preferred by overload resolution over the generic ones.
// Generic Wire code is not specialised for callers in other modules (Protocol), and this compiler does not
// specialise generic functions with typed throws even inside Wire; unspecialised FixedWidthInteger code
// costs ~100 ns a field in metadata lookups. These bodies only call non-throwing generic helpers, which
// are specialised.

extension MessageWriter {
    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: UInt8) {
        integerField(table, field, value)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, vector: [UInt8]) {
        integerVector(table, field, vector)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: UInt16) {
        integerField(table, field, value)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, vector: [UInt16]) {
        integerVector(table, field, vector)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: UInt32) {
        integerField(table, field, value)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, vector: [UInt32]) {
        integerVector(table, field, vector)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: UInt64) {
        integerField(table, field, value)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, vector: [UInt64]) {
        integerVector(table, field, vector)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: Int8) {
        integerField(table, field, value)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, vector: [Int8]) {
        integerVector(table, field, vector)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: Int16) {
        integerField(table, field, value)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, vector: [Int16]) {
        integerVector(table, field, vector)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: Int32) {
        integerField(table, field, value)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, vector: [Int32]) {
        integerVector(table, field, vector)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, _ value: Int64) {
        integerField(table, field, value)
    }
    public mutating func field(_ table: TableBuilder, _ field: Int, vector: [Int64]) {
        integerVector(table, field, vector)
    }
}

extension TableView {
    public func scalar(_ field: Int, _: UInt8.Type) throws(WireError) -> UInt8? {
        guard let at = try locate(field, size: MemoryLayout<UInt8>.size, alignment: MemoryLayout<UInt8>.size) else {
            return nil
        }
        return Self.load(bytes, at, UInt8.self)
    }
    public func scalars(_ field: Int, _: UInt8.Type, budget: inout DecodeBudget) throws(WireError) -> [UInt8]? {
        let size = MemoryLayout<UInt8>.size
        guard let (data, count) = try pair(field, elementSize: size, alignment: size,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        try budget.charge(count * size)
        return Self.loadArray(bytes, data, count, UInt8.self)
    }
    public func scalar(_ field: Int, _: UInt16.Type) throws(WireError) -> UInt16? {
        guard let at = try locate(field, size: MemoryLayout<UInt16>.size, alignment: MemoryLayout<UInt16>.size) else {
            return nil
        }
        return Self.load(bytes, at, UInt16.self)
    }
    public func scalars(_ field: Int, _: UInt16.Type, budget: inout DecodeBudget) throws(WireError) -> [UInt16]? {
        let size = MemoryLayout<UInt16>.size
        guard let (data, count) = try pair(field, elementSize: size, alignment: size,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        try budget.charge(count * size)
        return Self.loadArray(bytes, data, count, UInt16.self)
    }
    public func scalar(_ field: Int, _: UInt32.Type) throws(WireError) -> UInt32? {
        guard let at = try locate(field, size: MemoryLayout<UInt32>.size, alignment: MemoryLayout<UInt32>.size) else {
            return nil
        }
        return Self.load(bytes, at, UInt32.self)
    }
    public func scalars(_ field: Int, _: UInt32.Type, budget: inout DecodeBudget) throws(WireError) -> [UInt32]? {
        let size = MemoryLayout<UInt32>.size
        guard let (data, count) = try pair(field, elementSize: size, alignment: size,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        try budget.charge(count * size)
        return Self.loadArray(bytes, data, count, UInt32.self)
    }
    public func scalar(_ field: Int, _: UInt64.Type) throws(WireError) -> UInt64? {
        guard let at = try locate(field, size: MemoryLayout<UInt64>.size, alignment: MemoryLayout<UInt64>.size) else {
            return nil
        }
        return Self.load(bytes, at, UInt64.self)
    }
    public func scalars(_ field: Int, _: UInt64.Type, budget: inout DecodeBudget) throws(WireError) -> [UInt64]? {
        let size = MemoryLayout<UInt64>.size
        guard let (data, count) = try pair(field, elementSize: size, alignment: size,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        try budget.charge(count * size)
        return Self.loadArray(bytes, data, count, UInt64.self)
    }
    public func scalar(_ field: Int, _: Int8.Type) throws(WireError) -> Int8? {
        guard let at = try locate(field, size: MemoryLayout<Int8>.size, alignment: MemoryLayout<Int8>.size) else {
            return nil
        }
        return Self.load(bytes, at, Int8.self)
    }
    public func scalars(_ field: Int, _: Int8.Type, budget: inout DecodeBudget) throws(WireError) -> [Int8]? {
        let size = MemoryLayout<Int8>.size
        guard let (data, count) = try pair(field, elementSize: size, alignment: size,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        try budget.charge(count * size)
        return Self.loadArray(bytes, data, count, Int8.self)
    }
    public func scalar(_ field: Int, _: Int16.Type) throws(WireError) -> Int16? {
        guard let at = try locate(field, size: MemoryLayout<Int16>.size, alignment: MemoryLayout<Int16>.size) else {
            return nil
        }
        return Self.load(bytes, at, Int16.self)
    }
    public func scalars(_ field: Int, _: Int16.Type, budget: inout DecodeBudget) throws(WireError) -> [Int16]? {
        let size = MemoryLayout<Int16>.size
        guard let (data, count) = try pair(field, elementSize: size, alignment: size,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        try budget.charge(count * size)
        return Self.loadArray(bytes, data, count, Int16.self)
    }
    public func scalar(_ field: Int, _: Int32.Type) throws(WireError) -> Int32? {
        guard let at = try locate(field, size: MemoryLayout<Int32>.size, alignment: MemoryLayout<Int32>.size) else {
            return nil
        }
        return Self.load(bytes, at, Int32.self)
    }
    public func scalars(_ field: Int, _: Int32.Type, budget: inout DecodeBudget) throws(WireError) -> [Int32]? {
        let size = MemoryLayout<Int32>.size
        guard let (data, count) = try pair(field, elementSize: size, alignment: size,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        try budget.charge(count * size)
        return Self.loadArray(bytes, data, count, Int32.self)
    }
    public func scalar(_ field: Int, _: Int64.Type) throws(WireError) -> Int64? {
        guard let at = try locate(field, size: MemoryLayout<Int64>.size, alignment: MemoryLayout<Int64>.size) else {
            return nil
        }
        return Self.load(bytes, at, Int64.self)
    }
    public func scalars(_ field: Int, _: Int64.Type, budget: inout DecodeBudget) throws(WireError) -> [Int64]? {
        let size = MemoryLayout<Int64>.size
        guard let (data, count) = try pair(field, elementSize: size, alignment: size,
                                           limit: WireLimits.maximumVectorCount, what: "vector count") else {
            return nil
        }
        try budget.charge(count * size)
        return Self.loadArray(bytes, data, count, Int64.self)
    }
}
