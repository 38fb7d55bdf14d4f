// A JSON document as a plain value, so config.json can be checked field by field with error messages
// that name the field (JSONDecoder's errors name Swift types, not OCI fields).
import Foundation

public enum JSONValue: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) { self = .integer(i); return }
        if let u = try? c.decode(UInt64.self) { self = .unsigned(u); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    /// Parses `data`; a syntax error is reported with `what` (e.g. "config.json") in front.
    public static func parse(_ data: Data, what: String) throws(RuntimeError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error {
                let underlying = (context.underlyingError as NSError?)?.localizedDescription
                throw RuntimeError("\(what): invalid JSON: \(underlying ?? context.debugDescription)")
            }
            throw RuntimeError("\(what): invalid JSON: \(error)")
        } catch {
            throw RuntimeError("\(what): invalid JSON: \(error)")
        }
    }

    /// Compact serialisation (used to hand raw sub-documents back out, e.g. annotations).
    public var jsonText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .unsigned(let u): return String(u)
        case .double(let d): return String(d)
        case .string(let s): return JSONText.quote(s)
        case .array(let a): return "[" + a.map(\.jsonText).joined(separator: ",") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { JSONText.quote($0) + ":" + o[$0]!.jsonText }.joined(separator: ",") + "}"
        }
    }
}

/// A field of a JSON document with its dotted path, for checked access.
public struct JSONField {
    public let path: String
    public let value: JSONValue?
    let document: String

    public init(document: String, path: String, value: JSONValue?) {
        self.document = document
        self.path = path
        self.value = value
    }

    public var isPresent: Bool {
        if case .none = value { return false }
        if case .some(.null) = value { return false }
        return true
    }

    public func fail(_ problem: String) -> RuntimeError {
        RuntimeError("\(document): \(path): \(problem)")
    }

    public subscript(key: String) -> JSONField {
        var child: JSONValue?
        if case .some(.object(let o)) = value { child = o[key] }
        return JSONField(document: document, path: path.isEmpty ? key : "\(path).\(key)", value: child)
    }

    public func object() throws(RuntimeError) -> [String: JSONValue] {
        guard case .some(.object(let o)) = value else { throw fail("must be an object") }
        return o
    }

    public func optionalObject() throws(RuntimeError) -> [String: JSONValue]? {
        isPresent ? try object() : nil
    }

    public func elements() throws(RuntimeError) -> [JSONField] {
        guard isPresent else { return [] }
        guard case .some(.array(let a)) = value else { throw fail("must be an array") }
        return a.enumerated().map { JSONField(document: document, path: "\(path)[\($0.offset)]", value: $0.element) }
    }

    public func string() throws(RuntimeError) -> String {
        guard case .some(.string(let s)) = value else { throw fail("must be a string") }
        return s
    }

    public func optionalString() throws(RuntimeError) -> String? {
        isPresent ? try string() : nil
    }

    public func bool(default fallback: Bool = false) throws(RuntimeError) -> Bool {
        guard isPresent else { return fallback }
        guard case .some(.bool(let b)) = value else { throw fail("must be true or false") }
        return b
    }

    public func stringArray() throws(RuntimeError) -> [String] {
        guard isPresent else { return [] }
        guard case .some(.array(let a)) = value else { throw fail("must be an array of strings") }
        var result: [String] = []
        for item in a {
            guard case .string(let s) = item else { throw fail("must be an array of strings") }
            result.append(s)
        }
        return result
    }

    public func stringMap() throws(RuntimeError) -> [String: String] {
        guard isPresent else { return [:] }
        guard case .some(.object(let o)) = value else { throw fail("must be an object of strings") }
        var result: [String: String] = [:]
        for (k, v) in o {
            guard case .string(let s) = v else { throw self[k].fail("must be a string") }
            result[k] = s
        }
        return result
    }

    /// An integer within `range`.
    public func integer(in range: ClosedRange<Int64>) throws(RuntimeError) -> Int64 {
        let n: Int64
        switch value {
        case .some(.integer(let i)): n = i
        case .some(.unsigned): throw fail("must be an integer in \(range.lowerBound)...\(range.upperBound)")
        default: throw fail("must be an integer")
        }
        guard range.contains(n) else { throw fail("must be an integer in \(range.lowerBound)...\(range.upperBound)") }
        return n
    }

    public func optionalInteger(in range: ClosedRange<Int64>) throws(RuntimeError) -> Int64? {
        isPresent ? try integer(in: range) : nil
    }

    /// A non-negative 64-bit integer (rlimits may be 2^64-1, "unlimited").
    public func unsigned() throws(RuntimeError) -> UInt64 {
        switch value {
        case .some(.integer(let i)) where i >= 0: return UInt64(i)
        case .some(.unsigned(let u)): return u
        default: throw fail("must be a non-negative integer")
        }
    }
}

/// JSON string quoting for the few documents the launcher writes by hand (log lines).
public enum JSONText {
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
