import Foundation
import FovealIO
import FovealTensor

/// A GazeCapture folder (Krafka et al., CVPR 2016) or one in the same layout (`foveal synth`):
/// one subfolder per recording with `frames/*.jpg` and the JSON files.
///
/// The dataset is streamed: only one recording's metadata is in memory at a time, and images are
/// decoded only when asked for, so the full 2.4 M-frame release reads in constant memory.
///
/// Other layouts (MPIIFaceGaze) are read into the same model, recordings of labelled frames with
/// splits, and handed over whole (`init(root:recordings:)`), so evaluation and training take them
/// unchanged.
public final class GazeCaptureDataset: Sendable {
    public let root: String
    /// Recording folder names, sorted.
    public let recordingIDs: [String]
    /// The recordings of a dataset read in another layout, by id; nil for a GazeCapture folder.
    private let loaded: [String: Recording]?

    /// Recordings already read (another layout's), in the given order.
    public init(root: String, recordings: [Recording]) {
        self.root = root
        recordingIDs = recordings.map(\.id)
        loaded = Dictionary(recordings.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public init(root: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileFormatError(root, "not a dataset folder")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        recordingIDs = entries.filter { name in
            var dir: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &dir) && dir.boolValue
        }.sorted()
        guard !recordingIDs.isEmpty else { throw FileFormatError(root, "no recording folders") }
        self.root = root
        loaded = nil
    }

    /// Loads one recording's metadata (all its JSON files).
    public func recording(_ id: String) throws -> Recording {
        if let loaded {
            guard let r = loaded[id] else { throw FileFormatError(root + "/" + id, "no such recording") }
            return r
        }
        return try RecordingParser(folder: root + "/" + id).load(id: id)
    }

    /// Split and frame count from info.json alone.
    public func info(_ id: String) throws -> (split: String, totalFrames: Int, device: String) {
        if loaded != nil {
            let r = try recording(id)
            return (r.split, r.frames.count, r.device)
        }
        return try RecordingParser(folder: root + "/" + id).info()
    }

    /// Decodes frames' JPEGs on the engine's workers; each result is the image or what went wrong.
    public static func decode(_ frames: [GazeCaptureFrame]) -> [Result<RGBImage, FileFormatError>] {
        var results = [Result<RGBImage, FileFormatError>?](repeating: nil, count: frames.count)
        results.withUnsafeMutableBufferPointer { out in
            let slots = UncheckedSendable(out.baseAddress!)
            parallelFor(frames.count) { i in
                let path = frames[i].imagePath
                do {
                    slots.value[i] = .success(try RGBImage(contentsOf: path))
                } catch let error as FileFormatError {
                    slots.value[i] = .failure(FileFormatError(path, error.problem))
                } catch {
                    slots.value[i] = .failure(FileFormatError(path, "\(error)"))
                }
            }
        }
        return results.map { $0! }
    }
}

/// Which frames to take from a dataset.
public struct FrameSelection: Sendable {
    /// "train", "val", "test", or nil for all.
    public var split: String?
    /// Only frames with face, both eyes and face grid valid (Table 1's frames).
    public var validOnly: Bool
    /// At most this many frames.
    public var limit: Int?
    /// Only this part of the recordings (for evaluation spread over processes or machines).
    public var shard: Shard?

    public init(split: String? = "test", validOnly: Bool = true, limit: Int? = nil, shard: Shard? = nil) {
        (self.split, self.validOnly, self.limit, self.shard) = (split, validOnly, limit, shard)
    }
}

/// Part `index` (1-based) of `count` disjoint parts of a dataset, split by recording: the
/// recording at position k of the sorted folder list belongs to part k mod count + 1. Every
/// recording is in exactly one part, the same one on every machine, and each part reads only
/// its own recordings.
public struct Shard: Codable, Sendable, Equatable, CustomStringConvertible {
    public let index: Int, count: Int

    /// `index` in 1...count, count 1 to a million (more parts than any dataset has recordings).
    public init?(index: Int, count: Int) {
        guard (1...1_000_000).contains(count), (1...count).contains(index) else { return nil }
        (self.index, self.count) = (index, count)
    }

    /// "I/N", as `--shard` takes it.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: i, count: n)
    }

    public func contains(position k: Int) -> Bool { k % count == index - 1 }

    enum CodingKeys: String, CodingKey { case index, count }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let (i, n) = (try c.decode(Int.self, forKey: .index), try c.decode(Int.self, forKey: .count))
        guard let shard = Shard(index: i, count: n) else {
            throw DecodingError.dataCorruptedError(forKey: .index, in: c, debugDescription: "shard \(i)/\(n) is not a part of a whole")
        }
        self = shard
    }

    public var description: String { "\(index)/\(count)" }
}

/// Walks the selected frames recording by recording, collecting what it had to skip.
public struct FrameWalk {
    public let dataset: GazeCaptureDataset
    public let selection: FrameSelection
    /// Recordings of the selected split, with their info.json frame counts (for progress).
    public let recordings: [(id: String, totalFrames: Int)]
    /// Recordings and files that could not be used, in the order met.
    public private(set) var problems: [FileFormatError] = []
    public private(set) var skippedRecordings = 0

    public init(_ dataset: GazeCaptureDataset, _ selection: FrameSelection) {
        self.dataset = dataset
        self.selection = selection
        var problems: [FileFormatError] = []
        var chosen: [(String, Int)] = []
        for (position, id) in dataset.recordingIDs.enumerated() where selection.shard?.contains(position: position) ?? true {
            do {
                let info = try dataset.info(id)
                if selection.split == nil || info.split == selection.split { chosen.append((id, info.totalFrames)) }
            } catch let p as FileFormatError {
                problems.append(p)
            } catch {
                problems.append(FileFormatError(dataset.root + "/" + id, "\(error)"))
            }
        }
        recordings = chosen
        self.problems = problems
        skippedRecordings = problems.count
    }

    /// Calls `body` with each selected recording's selected frames, in order; stops after
    /// `selection.limit` frames. Broken recordings are skipped and recorded.
    public mutating func forEachRecording(_ body: (Recording, [GazeCaptureFrame]) throws -> Void) rethrows {
        var taken = 0
        for (id, _) in recordings {
            if let limit = selection.limit, taken >= limit { return }
            let recording: Recording
            do {
                recording = try dataset.recording(id)
            } catch let p as FileFormatError {
                problems.append(p)
                skippedRecordings += 1
                continue
            } catch {
                problems.append(FileFormatError(dataset.root + "/" + id, "\(error)"))
                skippedRecordings += 1
                continue
            }
            var frames = selection.validOnly ? recording.frames.filter(\.isValid) : recording.frames
            if let limit = selection.limit { frames = Array(frames.prefix(limit - taken)) }
            taken += frames.count
            try body(recording, frames)
        }
    }
}
