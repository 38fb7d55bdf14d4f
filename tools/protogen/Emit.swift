// Writes Swift from a parsed schema: the channel's codecs (Sources/Protocol) and example values used by
// the golden-fixture tests (Tests/WireTests).

func swiftName(_ name: String) -> String { swiftKeywords.contains(name) ? "`\(name)`" : name }

func lowerFirst(_ s: String) -> String { s.prefix(1).lowercased() + s.dropFirst() }

struct Output {
    var text = ""
    var indent = 0
    mutating func line(_ s: String = "") {
        text += s.isEmpty ? "\n" : String(repeating: "    ", count: indent) + s + "\n"
    }
    mutating func doc(_ lines: [String]) {
        for l in lines { line(l.isEmpty ? "///" : "/// \(l)") }
    }
}

func defaultValue(_ f: Field) -> String? {
    if f.optional { return "nil" }
    switch f.type {
    case .scalar(.bool): return "false"
    case .scalar: return "0"
    case .fd: return nil
    case .string: return "\"\""
    case .bytes, .vector: return "[]"
    case .table(let name): return "\(name)()"
    }
}

func encodeLine(_ f: Field, index: Int, value: String) -> String {
    switch f.type {
    case .scalar, .fd, .string: return "writer.field(t, \(index), \(value))"
    case .bytes: return "writer.field(t, \(index), bytes: \(value))"
    case .table: return "writer.field(t, \(index), table: \(value))"
    case .vector(.table): return "writer.field(t, \(index), tables: \(value))"
    case .vector(.string): return "writer.field(t, \(index), strings: \(value))"
    case .vector: return "writer.field(t, \(index), vector: \(value))"
    }
}

/// The expression reading field `index`, nil when absent.
func decodeExpression(_ f: Field, index: Int) -> String {
    switch f.type {
    case .scalar(.bool): return "try t.bool(\(index))"
    case .scalar(let s): return "try t.scalar(\(index), \(s.swift).self)"
    case .fd: return "try t.fd(\(index))"
    case .string: return "try t.string(\(index), budget: &budget)"
    case .bytes: return "try t.bytes(\(index), budget: &budget)"
    case .table(let name): return "try t.decodeTable(\(index), \(name).self, budget: &budget)"
    case .vector(.table(let name)): return "try t.decodeTables(\(index), \(name).self, budget: &budget)"
    case .vector(.string): return "try t.strings(\(index), budget: &budget)"
    case .vector(.scalar(let s)): return "try t.scalars(\(index), \(s.swift).self, budget: &budget)"
    case .vector: fatalError("rejected by the parser")
    }
}

/// The type and body of a zero-copy view accessor for field `index`.
func viewAccessor(_ f: Field, index: Int) -> (type: String, body: String) {
    switch f.type {
    case .scalar(.bool):
        return f.optional ? ("Bool?", "try table.bool(\(index))") : ("Bool", "try table.bool(\(index)) ?? false")
    case .scalar(let s):
        let read = "try table.scalar(\(index), \(s.swift).self)"
        return f.optional ? ("\(s.swift)?", read) : (s.swift, "\(read) ?? 0")
    case .fd:
        return ("FDIndex?", "try table.fd(\(index))")
    case .string, .bytes:
        let limit = f.type == .string ? "WireLimits.maximumString" : "WireLimits.maximumBytes"
        let read = "try table.rawBytes(\(index), limit: \(limit))"
        return f.optional ? ("UnsafeRawBufferPointer?", read)
                          : ("UnsafeRawBufferPointer", "\(read) ?? UnsafeRawBufferPointer(start: nil, count: 0)")
    case .table(let name):
        return ("\(name).View?", "try table.table(\(index)).map { \(name).View($0) }")
    case .vector(.table):
        return ("TableVector?", "try table.tableVector(\(index))")
    case .vector(.string):
        return ("StringVector?", "try table.stringVector(\(index))")
    case .vector(.scalar(let s)):
        return ("ScalarVector<\(s.swift)>?", "try table.scalarVector(\(index), \(s.swift).self)")
    case .vector:
        fatalError("rejected by the parser")
    }
}

func emitView(_ d: Declaration, into o: inout Output) {
    o.line()
    o.line("/// Zero-copy, checked accessors over a received \(d.name); valid while the receive buffer is.")
    o.line("/// Strings are returned as raw bytes, not UTF-8 checked; absent vectors and tables read as nil.")
    o.line("public struct View {")
    o.indent += 1
    o.line("public let table: TableView")
    o.line("public init(_ table: TableView) { self.table = table }")
    if d.isMessage {
        o.line("public init(_ message: MessageView) throws(WireError) { self.table = try message.root() }")
    }
    for (i, f) in d.fields.enumerated() {
        let (type, body) = viewAccessor(f, index: i)
        o.line("public var \(swiftName(f.name)): \(type) { get throws(WireError) { \(body) } }")
    }
    o.indent -= 1
    o.line("}")
}

func emitDeclaration(_ d: Declaration, schema: Schema, into o: inout Output) {
    o.doc(d.doc)
    if d.isMessage {
        let conformance = d.reply == nil ? "WireMessage" : "WireRequest"
        o.line("public struct \(d.name): \(conformance) {")
    } else {
        o.line("public struct \(d.name): WireTable {")
    }
    o.indent += 1
    if d.isMessage {
        if let reply = d.reply { o.line("public typealias Reply = \(reply)") }
        o.line("public static let messageID: UInt16 = \(d.id)")
        o.line("public static let name = \"\(d.name)\"")
    }
    o.line("public static let fieldCount = \(d.fields.count)")
    o.line()
    for f in d.fields {
        o.doc(f.doc)
        o.line("public var \(swiftName(f.name)): \(f.type.swift)\(f.optional ? "?" : "")")
    }
    if !d.fields.isEmpty { o.line() }
    let params = d.fields.map { f -> String in
        let dv = defaultValue(f).map { " = \($0)" } ?? ""
        return "\(swiftName(f.name)): \(f.type.swift)\(f.optional ? "?" : "")\(dv)"
    }
    o.line("public init(\(params.joined(separator: ", "))) {")
    o.indent += 1
    for f in d.fields { o.line("self.\(swiftName(f.name)) = \(swiftName(f.name))") }
    o.indent -= 1
    o.line("}")
    o.line()
    o.line("public func encodeTable(into writer: inout MessageWriter) -> Int {")
    o.indent += 1
    o.line("let t = writer.beginTable(fieldCount: Self.fieldCount)")
    for (i, f) in d.fields.enumerated() {
        if f.optional {
            o.line("if let v = \(swiftName(f.name)) { \(encodeLine(f, index: i, value: "v")) }")
        } else {
            o.line(encodeLine(f, index: i, value: swiftName(f.name)))
        }
    }
    o.line("return t.offset")
    o.indent -= 1
    o.line("}")
    o.line()
    o.line("public static func decode(table t: TableView, budget: inout DecodeBudget) throws(WireError) -> \(d.name) {")
    o.indent += 1
    if d.fields.isEmpty { o.line("_ = t") }
    for (i, f) in d.fields.enumerated() {
        let name = "f_\(f.name)"
        let expr = decodeExpression(f, index: i)
        if let dv = defaultValue(f) {
            o.line("let \(name) = \(expr)\(f.optional ? "" : " ?? \(dv)")")
        } else {
            o.line("guard let \(name) = \(expr) else { throw .malformed(\"\(d.name).\(f.name) is missing\") }")
        }
    }
    let args = d.fields.map { "\($0.name): f_\($0.name)" }
    o.line("return \(d.name)(\(args.joined(separator: ", ")))")
    o.indent -= 1
    o.line("}")
    emitView(d, into: &o)
    o.indent -= 1
    o.line("}")
    o.line()
}

func emitChannel(_ schema: Schema) -> String {
    var o = Output()
    let base = schema.file.split(separator: "/").last.map(String.init) ?? schema.file
    o.line("// Generated by bulwark-protogen from protocol/\(base). Do not edit; edit the schema and run")
    o.line("// tools/check-generated (or bulwark-protogen) instead.")
    o.line("import Wire")
    o.line()
    o.doc(schema.doc)
    o.line("public enum \(schema.channel) {")
    o.indent += 1
    o.line("public static let channelName = \"\(lowerFirst(schema.channel))\"")
    o.line()
    for d in schema.declarations { emitDeclaration(d, schema: schema, into: &o) }

    let messages = schema.messages
    o.line("/// Every message of the channel, for dispatch by message id.")
    o.line("public enum Message: WireChannelMessage {")
    o.indent += 1
    o.line("case errorReply(ErrorReply)")
    for m in messages { o.line("case \(swiftName(lowerFirst(m.name)))(\(m.name))") }
    o.line("")
    o.line("/// Every message type of the channel (ErrorReply first), e.g. to look messages up by name.")
    o.line("public static let messageTypes: [any WireMessage.Type] = [")
    o.indent += 1
    o.line("ErrorReply.self,")
    for m in messages { o.line("\(m.name).self,") }
    o.indent -= 1
    o.line("]")
    o.line()
    o.line("public static let channelName = \(schema.channel).channelName")
    o.line()
    o.line("public static func messageName(_ id: UInt16) -> String? {")
    o.indent += 1
    o.line("switch id {")
    o.line("case ErrorReply.messageID: return ErrorReply.name")
    for m in messages { o.line("case \(m.name).messageID: return \(m.name).name") }
    o.line("default: return nil")
    o.line("}")
    o.indent -= 1
    o.line("}")
    o.line()
    o.line("public static func decode(messageID: UInt16, view: MessageView) throws(WireError) -> Message {")
    o.indent += 1
    o.line("switch messageID {")
    o.line("case ErrorReply.messageID: return .errorReply(try ErrorReply.decode(view))")
    for m in messages { o.line("case \(m.name).messageID: return .\(swiftName(lowerFirst(m.name)))(try \(m.name).decode(view))") }
    o.line("default: throw .unknownMessage(messageID)")
    o.line("}")
    o.indent -= 1
    o.line("}")
    o.line()
    for (property, type) in [("messageID", "UInt16"), ("message", "any WireMessage")] {
        o.line("public var \(property): \(type) {")
        o.indent += 1
        o.line("switch self {")
        let suffix = property == "messageID" ? ".messageID" : ""
        o.line(property == "messageID" ? "case .errorReply: return ErrorReply.messageID" : "case .errorReply(let m): return m")
        for m in messages {
            let value = suffix.isEmpty ? "m" : "\(m.name).messageID"
            o.line("case .\(swiftName(lowerFirst(m.name)))\(suffix.isEmpty ? "(let m)" : ""): return \(value)")
        }
        o.line("}")
        o.indent -= 1
        o.line("}")
        o.line()
    }
    o.line("public func encode(into writer: inout MessageWriter) {")
    o.indent += 1
    o.line("switch self {")
    o.line("case .errorReply(let m): m.encode(into: &writer)")
    for m in messages { o.line("case .\(swiftName(lowerFirst(m.name)))(let m): m.encode(into: &writer)") }
    o.line("}")
    o.indent -= 1
    o.line("}")
    o.indent -= 1
    o.line("}")
    o.indent -= 1
    o.line("}")
    return o.text
}

// MARK: - Example values for the golden fixtures

/// A deterministic example expression for field number `k`, varying with the Swift variable `v`.
/// Values are chosen so that byte order, sign and every byte of a field show up in the fixture.
func exampleExpression(_ type: FieldType, field: Field, k: Int, ns: String, fdIndex: inout Int) -> String {
    switch type {
    case .scalar(.bool): return "v % 2 == 0"
    case .scalar(let s):
        let literal: String
        switch s {
        case .u8: literal = "0xA\(k % 10)"
        case .u16: literal = "0xB1\(k % 10)2"
        case .u32: literal = "0xC1C2C3\(k % 10)4"
        case .u64: literal = "0x0102_0304_0506_07\(k % 10)8"
        case .i8: literal = "-\(k + 1)"
        case .i16: literal = "-\(k + 1)00"
        case .i32: literal = "-\(k + 1)_000_001"
        case .i64: literal = "-\(k + 1)_000_000_000_001"
        case .bool: fatalError()
        }
        return "\(s.swift)(truncatingIfNeeded: \(literal) + v)"
    case .fd:
        defer { fdIndex += 1 }
        return "FDIndex(\(fdIndex))"
    case .string: return "\"\(field.name)-\\(v)-é\""
    case .bytes: return "[0x00, 0xFF, \(k), UInt8(truncatingIfNeeded: v)]"
    case .table(let name): return "\(ns).\(name).example(v + \(k + 1))"
    case .vector(.table(let name)): return "[\(ns).\(name).example(v), \(ns).\(name).example(v + 1)]"
    case .vector(.string): return "[\"\(field.name)\\(v)\", \"\", \"/\"]"
    case .vector(let e):
        var i = 0
        let a = exampleExpression(e, field: field, k: k, ns: ns, fdIndex: &i)
        let b = exampleExpression(e, field: field, k: k + 1, ns: ns, fdIndex: &i)
        return "[\(a), \(b)]"
    }
}

func emitExamples(_ schemas: [Schema]) -> String {
    var o = Output()
    o.line("// Generated by bulwark-protogen: one deterministic example value per schema table and message,")
    o.line("// and the list of golden cases (protocol/golden/<channel>/<Message>.bin). Do not edit.")
    o.line("import Protocol")
    o.line("import Wire")
    o.line()
    for schema in schemas {
        for d in schema.declarations {
            var fdIndex = 0
            o.line("extension \(schema.channel).\(d.name) {")
            o.indent += 1
            o.line("static func example(_ v: Int) -> Self {")
            o.indent += 1
            let args = d.fields.enumerated().map { (k, f) in
                "\(f.name): \(exampleExpression(f.type, field: f, k: k, ns: schema.channel, fdIndex: &fdIndex))"
            }
            o.line("Self(\(args.joined(separator: ", ")))")
            o.indent -= 1
            o.line("}")
            if d.isMessage { o.line("static let exampleFDCount = \(fdIndex)") }
            o.indent -= 1
            o.line("}")
            o.line()
        }
    }
    o.line("let goldenCases: [GoldenCase] = [")
    o.indent += 1
    for schema in schemas {
        let replies = schema.replyNames
        for m in schema.messages {
            let flags = replies.contains(m.name) ? "[.reply]" : "[]"
            o.line("GoldenCase(\(schema.channel).Message.\(swiftName(lowerFirst(m.name)))(.example(0)), " +
                   "fdCount: \(schema.channel).\(m.name).exampleFDCount, flags: \(flags)),")
        }
        o.line("GoldenCase(\(schema.channel).Message.errorReply(ErrorReply(errno: 2, message: \"no such file\")), " +
               "fdCount: 0, flags: [.reply, .error]),")
    }
    o.indent -= 1
    o.line("]")
    return o.text
}
