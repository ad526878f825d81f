import Foundation
import FovealEvaluation
import FovealGeometry
import FovealModel
import FovealTestSupport
import GazeCapture
import Testing

@Suite struct Evaluation {
    let made = try! HandMadeDataset()

    @Test func evaluationEqualsAnIndependentComputation() throws {
        let constant = CameraSpacePoint(xCm: 1.25, yCm: -3.5)
        let report = try Evaluator(model: try GazeNet(weightsAt: try constantPredictorWeights(xCm: constant.xCm, yCm: constant.yCm))).run(
            try GazeCaptureDataset(root: made.root), FrameSelection(split: "test", validOnly: true))
        // Independently: the distance from the constant to each evaluated frame's label.
        func distances(_ family: String?) -> [Double] {
            made.evaluatedTestFrames.filter { family == nil || $0.family == family }.map {
                (($0.xCam - 1.25) * ($0.xCam - 1.25) + ($0.yCam + 3.5) * ($0.yCam + 3.5)).squareRoot()
            }
        }
        for family in ["iPhone", "iPad"] {
            let expected = distances(family)
            let got = try #require(report.families[family])
            #expect(got.frames == expected.count)
            #expect(abs(got.meanCm - expected.reduce(0, +) / Double(expected.count)) < 1e-4)
        }
        let all = distances(nil)
        #expect(report.overall.frames == all.count && report.overall.frames == 6)
        #expect(abs(report.overall.meanCm - all.reduce(0, +) / Double(all.count)) < 1e-4)
        #expect(abs(report.overall.medianCm - all.sorted()[2...3].reduce(0, +) / 2) < 1e-4)
        // The missing and the corrupt frame are named; the broken recording too.
        #expect(report.skippedFrames == 2 && report.skippedRecordings == 1)
        for file in made.brokenFiles { #expect(report.problems.contains { $0.hasPrefix(file + ": ") }, "\(file)") }
    }

    @Test func statisticsAreTheTextbookOnes() {
        let s = ErrorStatistics([1, 2, 3, 4, 10])
        #expect(s.frames == 5 && s.meanCm == 4 && s.medianCm == 3)
        #expect(abs(s.stdCm - (50.0 / 5).squareRoot()) < 1e-12)
    }

}

@Suite struct CalibratedEvaluationDots {
    @Test func calibrationDotsAreTheFirstOrEveryOther() {
        let dots = [3, 4, 7, 8, 9, 12, 15, 20]
        #expect(CalibratedEvaluation.DotChoice.first.pick(3, of: dots) == [3, 4, 7])
        #expect(CalibratedEvaluation.DotChoice.spread.pick(3, of: dots) == [3, 7, 9])
        // More than half: every other dot, then the first of the rest.
        #expect(CalibratedEvaluation.DotChoice.spread.pick(6, of: dots) == [3, 7, 9, 15, 4, 8])
    }
}
