import Foundation

/// What a display's EDID (VESA E-EDID 1.3/1.4, the 128-byte base block) says about its physical
/// size and native resolution, as the kernel exposes it under `/sys/class/drm/*/edid`.
///
/// The size is the preferred (first) detailed timing descriptor's image size in mm; where that is
/// missing or implausible (some panels write cm there), the basic block's size in whole cm. A
/// blob that is not an EDID, fails its checksum or gives no size is refused with a reason.
public struct EDID: Sendable, Equatable {
    /// The three-letter PNP manufacturer ID (`DEL`, `AUO`, ...).
    public let manufacturer: String
    public let productCode: Int
    /// The monitor name descriptor, where there is one.
    public let name: String?
    public let version: Int, revision: Int
    public let widthMm: Double, heightMm: Double
    /// Where the size came from.
    public let sizeSource: SizeSource
    /// The preferred timing's active pixels, where there is a detailed timing.
    public let nativeWidthPx: Int?, nativeHeightPx: Int?

    public enum SizeSource: String, Sendable { case detailedTiming = "detailed timing", basicBlock = "basic block" }

    public init(bytes: [UInt8], source: String) throws(FileFormatError) {
        guard Array(bytes.prefix(8)) == Array([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0].prefix(bytes.count)) else {
            throw FileFormatError(source, "not an EDID (its header is not 00 FF FF FF FF FF FF 00)")
        }
        guard bytes.count >= 128 else { throw FileFormatError(source, "\(bytes.count) bytes, an EDID has at least 128") }
        guard bytes[0..<128].reduce(0, { ($0 + Int($1)) & 0xff }) == 0 else {
            throw FileFormatError(source, "EDID checksum fails: the block is corrupt")
        }
        (version, revision) = (Int(bytes[18]), Int(bytes[19]))
        guard version == 1, (1...4).contains(revision) else { throw FileFormatError(source, "EDID version \(version).\(revision), not 1.x") }
        let id = Int(bytes[8]) << 8 | Int(bytes[9])
        manufacturer = String(String.UnicodeScalarView([10, 5, 0].compactMap { shift in
            UnicodeScalar(UInt8(64 + (id >> shift) & 0x1f))
        }))
        productCode = Int(bytes[10]) | Int(bytes[11]) << 8

        var name: String?, timing: (width: Int, height: Int, widthMm: Int, heightMm: Int)?
        for offset in stride(from: 54, to: 126, by: 18) {
            let d = Array(bytes[offset..<(offset + 18)])
            if d[0] != 0 || d[1] != 0 {  // a detailed timing: the first is the preferred one
                guard timing == nil else { continue }
                timing = (Int(d[2]) | Int(d[4] >> 4) << 8, Int(d[5]) | Int(d[7] >> 4) << 8,
                          Int(d[12]) | Int(d[14] >> 4) << 8, Int(d[13]) | Int(d[14] & 0x0f) << 8)
            } else if d[3] == 0xfc {  // the monitor name, up to 13 characters ended by a line feed
                let text = d[5..<18].prefix { $0 != 0x0a }
                name = String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            }
        }
        self.name = name
        (nativeWidthPx, nativeHeightPx) = (timing?.width, timing?.height)
        let basicMm = (Double(bytes[21]) * 10, Double(bytes[22]) * 10)
        // A detailed timing's size is in mm; some panels put cm there (a tenth of the basic block's).
        if let t = timing, t.widthMm > 0, t.heightMm > 0, basicMm.0 == 0 || Double(t.widthMm) > basicMm.0 / 5 {
            (widthMm, heightMm, sizeSource) = (Double(t.widthMm), Double(t.heightMm), .detailedTiming)
        } else if basicMm.0 > 0, basicMm.1 > 0 {
            (widthMm, heightMm, sizeSource) = (basicMm.0, basicMm.1, .basicBlock)
        } else {
            throw FileFormatError(source, "the EDID gives no physical size (a projector or a TV may not): measure the screen and give --size-mm")
        }
    }

    /// Reads and parses an EDID file (a sysfs `edid`, or a blob saved by another tool).
    public init(contentsOf path: String) throws(FileFormatError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw FileFormatError(path, "cannot read the EDID") }
        try self.init(bytes: [UInt8](data), source: path)
    }

    /// A display output the kernel reports connected, with its EDID (`/sys/class/drm/card1-DP-1`:
    /// output `DP-1`).
    public struct Output: Sendable {
        public let name: String
        public let edid: Result<EDID, FileFormatError>
    }

    /// The connected outputs under `root` (the kernel's `/sys/class/drm`) with an EDID, sorted by name.
    public static func connectedOutputs(root: String = "/sys/class/drm") -> [Output] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.sorted().compactMap { entry -> Output? in
            // Connectors are cardN-NAME; cardN alone is the GPU.
            guard entry.hasPrefix("card"), let dash = entry.firstIndex(of: "-") else { return nil }
            let folder = root + "/" + entry
            let status = (try? String(contentsOfFile: folder + "/status", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            guard status == "connected", let data = FileManager.default.contents(atPath: folder + "/edid"), !data.isEmpty else { return nil }
            let edid = Result { () throws(FileFormatError) in try EDID(bytes: [UInt8](data), source: folder + "/edid") }
            return Output(name: String(entry[entry.index(after: dash)...]), edid: edid)
        }
    }

    /// One line for people: name, size and resolution.
    public var summary: String {
        let who = name ?? "\(manufacturer) \(String(format: "%04X", productCode))"
        let pixels = nativeWidthPx.flatMap { w in nativeHeightPx.map { " \(w)x\($0) px," } } ?? ""
        return "\(who),\(pixels) \(Int(widthMm)) x \(Int(heightMm)) mm (from the \(sizeSource.rawValue))"
    }
}
