// The schema language (see protocol/README.md, "Schema language") and its parser.

enum ScalarType: String, CaseIterable {
    case bool, u8, u16, u32, u64, i8, i16, i32, i64

    var swift: String {
        switch self {
        case .bool: return "Bool"
        case .u8: return "UInt8"
        case .u16: return "UInt16"
        case .u32: return "UInt32"
        case .u64: return "UInt64"
        case .i8: return "Int8"
        case .i16: return "Int16"
        case .i32: return "Int32"
        case .i64: return "Int64"
        }
    }
}

indirect enum FieldType: Equatable {
    case scalar(ScalarType)
    case fd
    case string
    case bytes
    case table(String)
    case vector(FieldType)

    var swift: String {
        switch self {
        case .scalar(let s): return s.swift
        case .fd: return "FDIndex"
        case .string: return "String"
        case .bytes: return "[UInt8]"
        case .table(let name): return name
        case .vector(let e): return "[\(e.swift)]"
        }
    }
}

struct Field {
    var name: String
    var type: FieldType
    var optional: Bool
    var doc: [String]
    var line: Int
}

struct Declaration {
    var name: String
    var isMessage: Bool
    var id: Int
    var reply: String?
    var doc: [String]
    var fields: [Field] = []
    var line: Int
}

struct Schema {
    var file: String
    var channel = ""
    var doc: [String] = []
    var declarations: [Declaration] = []

    var messages: [Declaration] { declarations.filter(\.isMessage) }
    func declaration(_ name: String) -> Declaration? { declarations.first { $0.name == name } }
    /// Messages named as some request's reply.
    var replyNames: Set<String> { Set(declarations.compactMap(\.reply)) }
}

struct SchemaError: Error, CustomStringConvertible {
    var file: String
    var line: Int
    var message: String
    var description: String { "\(file):\(line): \(message)" }
}

let swiftKeywords: Set<String> = [
    "associatedtype", "class", "deinit", "enum", "extension", "func", "import", "init", "inout", "let",
    "operator", "protocol", "static", "struct", "subscript", "typealias", "var", "break", "case", "continue",
    "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return", "switch",
    "where", "while", "as", "catch", "false", "is", "nil", "rethrows", "self", "Self", "super", "throw",
    "throws", "true", "try", "internal", "private", "public", "open", "fileprivate", "any", "some",
]

func isIdentifier(_ s: Substring) -> Bool {
    guard let first = s.first, first.isLetter || first == "_" else { return false }
    return s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } && s.allSatisfy(\.isASCII)
}

func parseSchema(file: String, text: String) throws -> Schema {
    var schema = Schema(file: file)
    var pendingDoc: [String] = []
    var current: Declaration?
    var lineNumber = 0
    func fail(_ message: String) -> SchemaError { SchemaError(file: file, line: lineNumber, message: message) }

    func parseType(_ text: Substring) throws -> FieldType {
        if text.hasPrefix("[") && text.hasSuffix("]") {
            let element = try parseType(text.dropFirst().dropLast())
            switch element {
            case .scalar(.bool), .fd, .bytes, .vector: throw fail("vectors of \(text.dropFirst().dropLast()) are not supported")
            default: return .vector(element)
            }
        }
        if let s = ScalarType(rawValue: String(text)) { return .scalar(s) }
        switch text {
        case "fd": return .fd
        case "string": return .string
        case "bytes": return .bytes
        default:
            guard isIdentifier(text), text.first!.isUppercase else { throw fail("unknown type '\(text)'") }
            guard let t = schema.declaration(String(text)) else {
                throw fail("table '\(text)' must be declared before it is used")
            }
            guard !t.isMessage else { throw fail("'\(text)' is a message; fields may only hold tables") }
            return .table(String(text))
        }
    }

    for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
        lineNumber += 1
        var line = rawLine.trimmingCharacters(in: " \t\r")
        if line.hasPrefix("///") {
            pendingDoc.append(String(line.dropFirst(3).trimmingCharacters(in: " ")))
            continue
        }
        var trailingDoc: String?
        if let range = line.range(of: "//") {
            trailingDoc = String(line[range.upperBound...].trimmingCharacters(in: " "))
            line = String(line[..<range.lowerBound].trimmingCharacters(in: " \t"))
        }
        if line.isEmpty {
            if trailingDoc == nil { pendingDoc = [] }
            continue
        }
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        if current == nil {
            if words.count == 2, words[0] == "channel" {
                guard schema.channel.isEmpty else { throw fail("second channel line") }
                guard isIdentifier(words[1]), words[1].first!.isUppercase else { throw fail("bad channel name") }
                schema.channel = String(words[1])
                schema.doc = pendingDoc
            } else if words.count == 3, words[0] == "table", words[2] == "{" {
                current = Declaration(name: String(words[1]), isMessage: false, id: 0, reply: nil, doc: pendingDoc,
                                      line: lineNumber)
            } else if words.count >= 5, words[0] == "message", words[2] == "=", words.last == "{" {
                guard let id = Int(words[3]), id >= 1, id <= 0xFFFF else { throw fail("message id must be 1...65535") }
                var reply: String?
                if words.count == 7, words[4] == "->" { reply = String(words[5]) }
                else if words.count != 5 { throw fail("expected: message Name = id [-> Reply] {") }
                current = Declaration(name: String(words[1]), isMessage: true, id: id, reply: reply, doc: pendingDoc,
                                      line: lineNumber)
            } else {
                throw fail("expected 'channel Name', 'table Name {' or 'message Name = id [-> Reply] {'")
            }
            if let d = current {
                guard isIdentifier(Substring(d.name)), d.name.first!.isUppercase else { throw fail("bad name '\(d.name)'") }
                guard schema.declaration(d.name) == nil, d.name != "Message", d.name != "ErrorReply" else {
                    throw fail("name '\(d.name)' is taken")
                }
            }
            pendingDoc = []
            continue
        }
        if line == "}" {
            schema.declarations.append(current!)
            current = nil
            pendingDoc = []
            continue
        }
        // A field: name: type[?]
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { throw fail("expected 'name: type'") }
        let name = parts[0].trimmingCharacters(in: " ")
        var typeText = Substring(parts[1].trimmingCharacters(in: " "))
        let optional = typeText.hasSuffix("?")
        if optional { typeText = typeText.dropLast() }
        guard isIdentifier(Substring(name)), name.first!.isLowercase else { throw fail("bad field name '\(name)'") }
        guard !current!.fields.contains(where: { $0.name == name }) else { throw fail("duplicate field '\(name)'") }
        let type = try parseType(typeText)
        if type == .fd && !current!.isMessage { throw fail("fd fields may appear in messages only") }
        var doc = pendingDoc
        if let trailingDoc, !trailingDoc.isEmpty { doc.append(trailingDoc) }
        current!.fields.append(Field(name: name, type: type, optional: optional, doc: doc, line: lineNumber))
        pendingDoc = []
    }
    lineNumber += 1
    if current != nil { throw fail("unterminated declaration '\(current!.name)'") }
    if schema.channel.isEmpty { throw fail("missing 'channel Name'") }
    var ids: [Int: String] = [:]
    for m in schema.messages {
        lineNumber = m.line
        if let other = ids[m.id] { throw fail("message id \(m.id) used by \(other) and \(m.name)") }
        ids[m.id] = m.name
        if let reply = m.reply {
            guard let r = schema.declaration(reply), r.isMessage else { throw fail("reply '\(reply)' is not a message") }
        }
        if m.fields.count > 255 { throw fail("too many fields") }
    }
    return schema
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }

    func range(of needle: String) -> Range<Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}
