import Foundation

/// The shape of a `GazeNet`: what a weight file's `__metadata__["config"]` JSON holds, with the
/// field names of the PyTorch reference (`task_size`, `saliency_size`, ...).
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Side of the square image the task network (AlexNet) sees, in pixels.
    public var taskSize: Int
    /// Side of the low-resolution copy the saliency network sees, in pixels.
    public var saliencySize: Int
    /// ResNet-18 prefix depth: 6, 10 or 14 layers (through layer1, layer2 or layer3).
    public var depth: Int
    /// The saliency ResNet's base width (64 in ResNet-18).
    public var saliencyWidth: Int
    /// AlexNet's five convolution widths (64, 192, 384, 256, 256 in torchvision's AlexNet).
    public var alexWidths: [Int]
    /// AlexNet's hidden linear width (4096 in torchvision's AlexNet).
    public var hidden: Int
    /// Gaze outputs span (-rangeCm, rangeCm) in camera space.
    public var rangeCm: Double
    /// With the saliency sampler (AN+SS) or the plain-AlexNet baseline (area downsampling).
    public var sampler: Bool
    /// With the presence head (`presence.weight`, `presence.bias`): the probability that a face
    /// with open eyes is in view. Absent from the JSON of models without one, so their
    /// configuration (and identity) reads as it always has.
    public var presence: Bool
    /// With the face-in-view head (`face_in_view.weight` (1, 1), `face_in_view.bias`): from the
    /// saliency map's entropy, the probability that a face is in view at all, its eyes open or
    /// closed. Needs the sampler. Absent from the JSON of models without one.
    public var faceInView: Bool
    /// Inference averages each frame's gaze and penultimate features with its mirror image's
    /// (x negated back): test-time augmentation, for models trained with mirrored frames. Twice
    /// the network's work; the frame itself is never copied (MirrorAverage.swift). Absent from
    /// the JSON of models without it.
    public var mirrorAverage: Bool

    enum CodingKeys: String, CodingKey {
        case taskSize = "task_size", saliencySize = "saliency_size", depth
        case saliencyWidth = "saliency_width", alexWidths = "alex_widths", hidden
        case rangeCm = "range_cm", sampler, presence, faceInView = "face_in_view", mirrorAverage = "mirror_average"
    }

    public init(taskSize: Int, saliencySize: Int, depth: Int, saliencyWidth: Int, alexWidths: [Int],
                hidden: Int, rangeCm: Double = 30, sampler: Bool = true, presence: Bool = false, faceInView: Bool = false,
                mirrorAverage: Bool = false) {
        self.taskSize = taskSize
        self.saliencySize = saliencySize
        self.depth = depth
        self.saliencyWidth = saliencyWidth
        self.alexWidths = alexWidths
        self.hidden = hidden
        self.rangeCm = rangeCm
        self.sampler = sampler
        self.presence = presence
        self.faceInView = faceInView
        self.mirrorAverage = mirrorAverage
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        taskSize = try c.decode(Int.self, forKey: .taskSize)
        saliencySize = try c.decode(Int.self, forKey: .saliencySize)
        depth = try c.decode(Int.self, forKey: .depth)
        saliencyWidth = try c.decode(Int.self, forKey: .saliencyWidth)
        alexWidths = try c.decode([Int].self, forKey: .alexWidths)
        hidden = try c.decode(Int.self, forKey: .hidden)
        rangeCm = try c.decode(Double.self, forKey: .rangeCm)
        sampler = try c.decode(Bool.self, forKey: .sampler)
        presence = try c.decodeIfPresent(Bool.self, forKey: .presence) ?? false
        faceInView = try c.decodeIfPresent(Bool.self, forKey: .faceInView) ?? false
        mirrorAverage = try c.decodeIfPresent(Bool.self, forKey: .mirrorAverage) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(taskSize, forKey: .taskSize)
        try c.encode(saliencySize, forKey: .saliencySize)
        try c.encode(depth, forKey: .depth)
        try c.encode(saliencyWidth, forKey: .saliencyWidth)
        try c.encode(alexWidths, forKey: .alexWidths)
        try c.encode(hidden, forKey: .hidden)
        try c.encode(rangeCm, forKey: .rangeCm)
        try c.encode(sampler, forKey: .sampler)
        if presence { try c.encode(true, forKey: .presence) }
        if faceInView { try c.encode(true, forKey: .faceInView) }
        if mirrorAverage { try c.encode(true, forKey: .mirrorAverage) }
    }

    /// The paper's model: 227x227 task and saliency inputs, ResNet-18 prefix of depth 10,
    /// torchvision AlexNet widths (57.7 M parameters, 3.53 GFLOP per frame).
    public static let paper = ModelConfig(taskSize: 227, saliencySize: 227, depth: 10, saliencyWidth: 64,
                                          alexWidths: [64, 192, 384, 256, 256], hidden: 4096)

    /// Foveal's compact model, small enough to train on two CPU cores: a 96-pixel task input and a
    /// 64-pixel saliency input, narrow widths (the training pilots' configuration; 0.68 M parameters).
    public static let compact = ModelConfig(taskSize: 96, saliencySize: 64, depth: 10, saliencyWidth: 16,
                                            alexWidths: [24, 48, 64, 64, 48], hidden: 256)

    /// A named preset ("paper", "compact") or a JSON file with the reference's fields.
    public static func named(_ nameOrPath: String) throws -> ModelConfig {
        switch nameOrPath {
        case "paper": return .paper
        case "compact": return .compact
        default:
            guard let data = FileManager.default.contents(atPath: nameOrPath) else {
                throw ModelError.badConfig("\(nameOrPath): not 'paper', 'compact' or a readable JSON file")
            }
            do {
                return try decode(json: String(decoding: data, as: UTF8.self))
            } catch {
                throw ModelError.badConfig("\(nameOrPath): \(error)")
            }
        }
    }

    /// Checks that the numbers describe a network that can run; names the first bad field.
    public func validate() throws {
        func bad(_ problem: String) -> ModelError { .badConfig(problem) }
        guard [6, 10, 14].contains(depth) else { throw bad("depth \(depth) is not 6, 10 or 14") }
        // Widths far past the paper's (4096 hidden units) are a corrupt file, not a model.
        guard alexWidths.count == 5, alexWidths.allSatisfy({ (1...16384).contains($0) }) else {
            throw bad("alex_widths must be 5 widths of 1-16384, not \(alexWidths)")
        }
        guard (1...4096).contains(saliencyWidth), (1...65536).contains(hidden) else { throw bad("saliency_width must be 1-4096 and hidden 1-65536") }
        // Gaze in camera space lies within a few metres of the camera.
        guard rangeCm > 0, rangeCm <= 1000 else { throw bad("range_cm must be above 0 and at most 1000, not \(rangeCm)") }
        // AlexNet's three 3x3/2 pools need at least a 63-pixel input.
        guard taskSize >= 63, taskSize <= 4096 else { throw bad("task_size \(taskSize) is outside 63...4096") }
        guard saliencySize >= 16, saliencySize <= 4096 else {
            throw bad("saliency_size \(saliencySize) is outside 16...4096")
        }
        guard sampler || !faceInView else { throw bad("face_in_view reads the saliency map: it needs \"sampler\": true") }
    }

    /// Decodes and validates the JSON a weight file carries.
    public static func decode(json: String) throws -> ModelConfig {
        let config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        } catch {
            throw ModelError.badConfig("config JSON does not decode: \(Self.describe(error))")
        }
        try config.validate()
        return config
    }

    /// The JSON written into a weight file's metadata (field order fixed).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            "wrong type at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted: "not valid JSON"
        default: "\(error)"
        }
    }
}

/// What goes wrong building or loading a model: one-line messages naming the file or field.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case badConfig(String)
    case weightMismatch(path: String, problem: String)
    case badInput(String)

    public var description: String {
        switch self {
        case .badConfig(let problem): "bad model configuration: \(problem)"
        case .weightMismatch(let path, let problem): "\(path): \(problem)"
        case .badInput(let problem): problem
        }
    }
}
