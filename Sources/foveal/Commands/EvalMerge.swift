import ArgumentParser
import Foundation
import FovealEvaluation
import FovealIO

extension Foveal.Eval {
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Combine the --json reports of `eval --shard 1/N` ... `--shard N/N` into one.",
            discussion: """
                The shards' per-frame errors are pooled, so the means, medians, deviations and counts \
                are exactly those of one run over the whole split (with or without --calibrate). \
                Refuses reports of different datasets, splits, models or calibration protocols, and a \
                set of shards with a part missing or repeated.
                """)

        @Flag(help: "Write the merged report as JSON to standard output.")
        var json = false

        @Argument(help: "The shards' JSON reports (files written by `eval --shard I/N --json`).")
        var reports: [String]

        func validate() throws {
            if reports.isEmpty { throw ValidationError("name the shards' reports") }
        }

        func run() throws {
            try reportingErrors {
                let contents = try reports.map { path -> (String, Data) in
                    guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("\(path): cannot read the report") }
                    return (path, data)
                }
                // A calibrated report has calibration_dots; the plain one has not.
                let calibrated = contents.map { _, data in
                    ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["calibration_dots"] != nil
                }
                guard Set(calibrated).count == 1 else { throw CommandFailure("the reports mix calibrated (--calibrate) and plain evaluations") }
                do {
                    if calibrated[0] {
                        let merged = try ShardMerge.merge(try contents.map { try decode(CalibratedEvaluation.Report.self, $0.1, $0.0) })
                        if json { emit(String(decoding: try JSONOutput.encoder().encode(merged), as: UTF8.self)) } else { printCalibratedEvaluation(merged) }
                    } else {
                        let merged = try ShardMerge.merge(try contents.map { try decode(EvaluationReport.self, $0.1, $0.0) })
                        printSkipped(merged.problems)
                        if json {
                            emit(String(decoding: try JSONOutput.encoder().encode(merged), as: UTF8.self))
                        } else {
                            printEvaluation(merged, participants: merged.familiesDegrees != nil)
                        }
                    }
                } catch let problem as ShardMerge.Problem {
                    throw CommandFailure("cannot merge: \(problem)")
                }
            }
        }

        private func decode<T: Decodable>(_ type: T.Type, _ data: Data, _ path: String) throws -> T {
            do {
                return try JSONOutput.decoder().decode(type, from: data)
            } catch {
                throw CommandFailure("\(path): not a report of `foveal eval --json` (\(describe(error)))")
            }
        }

        private func describe(_ error: Error) -> String {
            switch error {
            case DecodingError.keyNotFound(let key, _): "missing '\(key.stringValue)'"
            case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c), DecodingError.dataCorrupted(let c):
                c.codingPath.isEmpty ? "not JSON" : "bad '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
            default: "\(error)"
            }
        }
    }
}
