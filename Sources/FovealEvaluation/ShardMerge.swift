import GazeCapture

/// Combines the reports of `eval --shard I/N` runs into the report one run over the whole split
/// gives: the shards' per-frame errors pooled, so means, medians, deviations and counts are exact.
/// Refuses shards that do not fit together: another dataset, split, frame choice, model or
/// calibration protocol, a missing or repeated part, or a report without its per-frame errors.
public enum ShardMerge {
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public static func merge(_ reports: [EvaluationReport]) throws(Problem) -> EvaluationReport {
        try checkParts(reports.map(\.shard))
        guard let first = reports.first else { throw Problem("no reports to merge") }
        for r in reports.dropFirst() {
            guard r.dataset == first.dataset, r.split == first.split, r.frameSelection == first.frameSelection, r.model == first.model else {
                throw Problem("shard \(r.shard.map(\.description) ?? "?") is of another run: dataset, split, frames or model differ from shard \(first.shard.map(\.description) ?? "?")'s")
            }
        }
        var errors: [String: [Double]] = [:], degrees: [String: [Double]] = [:]
        for r in reports {
            guard let e = r.frameErrors else { throw Problem("shard \(r.shard.map(\.description) ?? "?") has no per-frame errors") }
            errors.merge(e, uniquingKeysWith: +)
            degrees.merge(r.frameErrorsDegrees ?? [:], uniquingKeysWith: +)
        }
        var merged = first
        merged.families = errors.mapValues(ErrorStatistics.init)
        merged.overall = ErrorStatistics(errors.values.flatMap { $0 })
        if first.frameErrorsDegrees != nil {
            let perFamily = AngularStatistics.perFamily(degrees)
            merged.familiesDegrees = perFamily.filter { $0.key != "all" }
            merged.overallDegrees = perFamily["all"]
        }
        // Seconds add up across the shards (processor time), so frames/s is one process's rate.
        merged.seconds = reports.reduce(0) { $0 + $1.seconds }
        merged.framesPerSecond = merged.seconds > 0 ? Double(merged.overall.frames) / merged.seconds : 0
        merged.skippedFrames = reports.reduce(0) { $0 + $1.skippedFrames }
        merged.skippedRecordings = reports.reduce(0) { $0 + $1.skippedRecordings }
        merged.problems = reports.flatMap(\.problems)
        merged.presence = first.presence.map { _ in reports.compactMap(\.presence).reduce(into: PresenceStatistics()) { $0.merge($1) } }
        merged.faceInView = first.faceInView.map { _ in reports.compactMap(\.faceInView).reduce(into: PresenceStatistics()) { $0.merge($1) } }
        (merged.shard, merged.frameErrors, merged.frameErrorsDegrees) = (nil, nil, nil)
        return merged
    }

    public static func merge(_ reports: [CalibratedEvaluation.Report]) throws(Problem) -> CalibratedEvaluation.Report {
        try checkParts(reports.map(\.shard))
        guard let first = reports.first else { throw Problem("no reports to merge") }
        for r in reports.dropFirst() {
            guard r.dataset == first.dataset, r.split == first.split, r.model == first.model,
                  r.calibrationDots == first.calibrationDots, r.dotChoice == first.dotChoice else {
                throw Problem("shard \(r.shard.map(\.description) ?? "?") is of another run: dataset, split, model or calibration protocol differ from shard \(first.shard.map(\.description) ?? "?")'s")
            }
        }
        var before: [String: [Double]] = [:], after: [String: [Double]] = [:]
        var beforeDegrees: [String: [Double]] = [:], afterDegrees: [String: [Double]] = [:]
        for r in reports {
            guard let e = r.frameErrors else { throw Problem("shard \(r.shard.map(\.description) ?? "?") has no per-frame errors") }
            before.merge(e.uncalibrated, uniquingKeysWith: +)
            after.merge(e.calibrated, uniquingKeysWith: +)
            beforeDegrees.merge(e.uncalibratedDegrees ?? [:], uniquingKeysWith: +)
            afterDegrees.merge(e.calibratedDegrees ?? [:], uniquingKeysWith: +)
        }
        var merged = first
        merged.uncalibrated = ErrorStatistics.perFamily(before)
        merged.calibrated = ErrorStatistics.perFamily(after)
        if first.uncalibratedDegrees != nil {
            merged.uncalibratedDegrees = AngularStatistics.perFamily(beforeDegrees)
            merged.calibratedDegrees = AngularStatistics.perFamily(afterDegrees)
        }
        merged.recordings = reports.reduce(0) { $0 + $1.recordings }
        merged.skippedRecordings = reports.reduce(0) { $0 + $1.skippedRecordings }
        merged.methodsChosen = reports.reduce(into: [:]) { total, r in total.merge(r.methodsChosen, uniquingKeysWith: +) }
        (merged.shard, merged.frameErrors) = (nil, nil)
        return merged
    }

    /// Every part 1...N of one N, each exactly once.
    static func checkParts(_ shards: [Shard?]) throws(Problem) {
        guard !shards.isEmpty else { throw Problem("no reports to merge") }
        let parts = shards.compactMap { $0 }
        guard parts.count == shards.count else { throw Problem("a report is not a shard's (it was run without --shard)") }
        let count = parts[0].count
        guard parts.allSatisfy({ $0.count == count }) else {
            throw Problem("the shards split the data in different numbers of parts: \(Set(parts.map(\.count)).sorted())")
        }
        let indices = parts.map(\.index)
        if let repeated = Dictionary(grouping: indices, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw Problem("shard \(repeated)/\(count) is given twice")
        }
        let missing = (1...count).filter { !indices.contains($0) }
        guard missing.isEmpty else { throw Problem("missing shards: \(missing.map { "\($0)/\(count)" }.joined(separator: ", "))") }
    }
}
