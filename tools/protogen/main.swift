// bulwark-protogen: reads protocol/*.schema and writes the Swift codecs.
//   bulwark-protogen <schema-dir> <codec-out-dir> <examples-out-file>
// writes <codec-out-dir>/<Channel>.generated.swift per schema and the golden-test example values.
// No dependencies beyond the C library, so it builds first and fast.
@preconcurrency import Glibc

func readFile(_ path: String) -> String? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

func writeFile(_ path: String, _ text: String) -> Bool {
    guard let f = fopen(path, "wb") else { return false }
    let bytes = Array(text.utf8)
    let ok = fwrite(bytes, 1, bytes.count, f) == bytes.count
    return fclose(f) == 0 && ok
}

func listSchemas(_ dir: String) -> [String] {
    guard let d = opendir(dir) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let entry = readdir(d) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name.hasSuffix(".schema") { names.append(name) }
    }
    return names.sorted()
}

func die(_ message: String) -> Never {
    fputs("bulwark-protogen: \(message)\n", stderr)
    exit(1)
}

let args = CommandLine.arguments
guard args.count == 4 else { die("usage: bulwark-protogen <schema-dir> <codec-out-dir> <examples-out-file>") }
let schemaFiles = listSchemas(args[1])
if schemaFiles.isEmpty { die("no .schema files in \(args[1])") }
var schemas: [Schema] = []
for name in schemaFiles {
    let path = args[1] + "/" + name
    guard let text = readFile(path) else { die("cannot read \(path)") }
    do {
        let schema = try parseSchema(file: name, text: text)
        if schemas.contains(where: { $0.channel == schema.channel }) { die("\(name): channel \(schema.channel) declared twice") }
        schemas.append(schema)
    } catch {
        die("\(args[1])/\(error)")
    }
}
for schema in schemas {
    let out = args[2] + "/" + schema.channel + ".generated.swift"
    guard writeFile(out, emitChannel(schema)) else { die("cannot write \(out)") }
}
guard writeFile(args[3], emitExamples(schemas)) else { die("cannot write \(args[3])") }
print("bulwark-protogen: \(schemas.count) channels, \(schemas.map { $0.messages.count }.reduce(0, +)) messages")
