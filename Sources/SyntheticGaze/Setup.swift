import Foundation

/// Where a synthetic recording happens: a hand-held phone or tablet, as in GazeCapture, or a
/// desk with a laptop's built-in camera or a webcam on a monitor, as Foveal's users sit.
public enum Setup: String, CaseIterable, Sendable {
    case phone, tablet, laptop, desktop

    /// The device family of `calibration/devices.csv` whose rows this setup draws screens from;
    /// `eval` reports errors per family.
    public var family: String {
        switch self {
        case .phone: "iPhone"
        case .tablet: "iPad"
        case .laptop: "laptop"
        case .desktop: "monitor"
        }
    }

    /// Held in the hand (GazeCapture's setting) rather than standing on a desk.
    public var isHandHeld: Bool { self == .phone || self == .tablet }

    /// The landscape frame size the camera delivers by default: GazeCapture's 640x480 front
    /// camera, or the 720p most laptop and USB webcams give at 30 fps.
    public var defaultFrameSize: (width: Int, height: Int) { isHandHeld ? (640, 480) : (1280, 720) }
}

/// Setups with whole-number weights (`phone=2,tablet=1,laptop=2,desktop=2`), and which one each
/// recording gets: the weights' exact shares, interleaved evenly, so that any prefix of the
/// recordings is close to the mix and recording i's setup depends only on i.
public struct SetupMix: Sendable, Equatable {
    public let weights: [(setup: Setup, weight: Int)]
    /// One period of the interleaving (smooth weighted round-robin), as long as the weights' sum.
    private let cycle: [Setup]

    public static func == (a: SetupMix, b: SetupMix) -> Bool { a.cycle == b.cycle }

    /// GazeCapture's mix as the renderer has always drawn it: four phone recordings to one tablet.
    public static let handHeld = SetupMix(validated: [(.phone, 4), (.tablet, 1)])

    private init(validated weights: [(setup: Setup, weight: Int)]) {
        self.weights = weights
        let total = weights.reduce(0) { $0 + $1.weight }
        var credit = [Int](repeating: 0, count: weights.count)
        var cycle: [Setup] = []
        for _ in 0..<total {
            for k in weights.indices { credit[k] += weights[k].weight }
            // The first of the largest credits: ties go to the setup named first.
            var best = 0
            for k in weights.indices where credit[k] > credit[best] { best = k }
            credit[best] -= total
            cycle.append(weights[best].setup)
        }
        self.cycle = cycle
    }

    /// Parses `laptop`, `phone=2,tablet=1`, ...: each setup at most once, weights 1-100
    /// (a bare name weighs 1).
    public init(parsing text: String) throws(SetupMixError) {
        var weights: [(setup: Setup, weight: Int)] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            guard let setup = Setup(rawValue: name) else {
                throw SetupMixError("'\(name)' is not a setup; use \(Setup.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard !weights.contains(where: { $0.setup == setup }) else { throw SetupMixError("'\(name)' is named twice") }
            var weight = 1
            if parts.count == 2 {
                guard let w = Int(parts[1].trimmingCharacters(in: .whitespaces)), (1...100).contains(w) else {
                    throw SetupMixError("the weight of '\(name)' must be a whole number from 1 to 100, not '\(parts[1])'")
                }
                weight = w
            }
            weights.append((setup, weight))
        }
        self.init(validated: weights)
    }

    /// The setup of recording `index`.
    public func setup(forRecording index: Int) -> Setup { cycle[index % cycle.count] }

    /// How many recordings before `index` have the same setup as it: the first of each setup
    /// goes to the test split and the second to validation, so that every split has every family.
    public func occurrence(ofRecording index: Int) -> Int {
        let setup = setup(forRecording: index)
        let perCycle = cycle.count { $0 == setup }
        return index / cycle.count * perCycle + cycle[..<(index % cycle.count)].count { $0 == setup }
    }

    public var description: String { weights.map { "\($0.setup.rawValue)=\($0.weight)" }.joined(separator: ",") }
}

public struct SetupMixError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

