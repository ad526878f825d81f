import Foundation
import FovealEvaluation

/// `eval`'s text report: a row per family and one for all, then presence and throughput.
/// `participants`: the families are MPIIFaceGaze's participants.
func printEvaluation(_ report: EvaluationReport, participants: Bool) {
    emit("dataset \(report.dataset), split \(report.split), \(report.frameSelection) frames")
    let degrees = report.familiesDegrees.map { $0.merging(["all": report.overallDegrees ?? AngularStatistics([])]) { a, _ in a } }
    emit("family     frames   mean cm  median cm   std cm" + (degrees == nil ? "" : "  mean deg")
         + (participants ? "   (MPIIFaceGaze: a family is a participant)" : ""))
    for (family, s) in report.families.sorted(by: { $0.key < $1.key }) + [("all", report.overall)] {
        emit(family.padding(toLength: 8, withPad: " ", startingAt: 0)
             + String(format: " %8d %9.3f %10.3f %8.3f", s.frames, s.meanCm, s.medianCm, s.stdCm)
             + (degrees?[family].map { String(format: " %9.2f", $0.meanDegrees) } ?? ""))
    }
    /// "96.43% of 84", or "no frames" where a class had none (no percentage to give).
    func share(_ correct: Int, of frames: Int) -> String {
        frames > 0 ? String(format: "%.2f%% of %d", 100 * Double(correct) / Double(frames), frames) : "no frames"
    }
    if let p = report.presence {
        emit("presence: \(share(p.correct, of: p.frames)) frames right (face with open eyes \(share(p.faceCorrect, of: p.faceFrames)), "
             + "none \(share(p.noFaceCorrect, of: p.noFaceFrames)))")
    }
    if let p = report.faceInView, p.frames > 0 {
        emit("face in view: \(share(p.correct, of: p.frames)) frames without a face with open eyes right (eyes closed "
             + "\(share(p.faceCorrect, of: p.faceFrames)), nobody there \(share(p.noFaceCorrect, of: p.noFaceFrames)))")
    }
    emit(String(format: "%d frames in %.1f s (%.1f frames/s); skipped %d frames, %d recordings",
                report.overall.frames, report.seconds, report.framesPerSecond, report.skippedFrames, report.skippedRecordings))
}

/// `eval --calibrate`'s text report: per family, the later dots' error before and after.
func printCalibratedEvaluation(_ report: CalibratedEvaluation.Report) {
    emit("dataset \(report.dataset ?? "?"): calibrated on \(report.calibrationDots) dots per recording (\(report.dotChoice.inWords) in time), "
         + "errors on the other dots (\(report.recordings) recordings, \(report.skippedRecordings) skipped)")
    let degrees = report.uncalibratedDegrees != nil
    emit("family     frames  uncalibrated cm  calibrated cm  change" + (degrees ? "  uncalibrated deg  calibrated deg" : ""))
    for family in report.uncalibrated.keys.sorted(by: { ($0 == "all" ? "~" : $0) < ($1 == "all" ? "~" : $1) }) {
        guard let u = report.uncalibrated[family], let c = report.calibrated[family] else { continue }
        let angular = zip(report.uncalibratedDegrees?[family].map { [$0] } ?? [], report.calibratedDegrees?[family].map { [$0] } ?? [])
            .map { String(format: " %17.2f %15.2f", $0.meanDegrees, $1.meanDegrees) }.first ?? ""
        emit(family.padding(toLength: 8, withPad: " ", startingAt: 0)
             + String(format: " %8d %16.3f %14.3f %6.1f%%", u.frames, u.meanCm, c.meanCm, (c.meanCm / u.meanCm - 1) * 100) + angular)
    }
    emit("method chosen by leave-one-target-out error: " + report.methodsChosen.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
}
