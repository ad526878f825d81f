import Foundation
import FovealGeometry
import FovealIO
import FovealTensor
import FovealTestSupport
import GazeCapture
import Testing

@Suite struct GazeCaptureReader {
    let made = try! HandMadeDataset()

    @Test func readsRecordingsWithTheirQuirks() throws {
        let dataset = try GazeCaptureDataset(root: made.root)
        #expect(dataset.recordingIDs == ["00002", "00005", "00007", "00009", "00011"])
        let phone = try dataset.recording("00002")
        #expect(phone.family == "iPhone" && phone.split == "test" && phone.frames.count == 5)
        #expect(phone.frames.map(\.isValid) == [true, false, true, false, true])
        #expect(phone.frames[1].gaze == CameraSpacePoint(xCm: -2, yCm: -7.25))
        #expect(phone.frames[0].face == DetectionBox(x: 10, y: 8, width: 30, height: 30))
        #expect(phone.frames[0].faceGrid == DetectionBox(x: 5, y: 4, width: 12, height: 12))
        let pad = try dataset.recording("00005")
        #expect(pad.family == "iPad" && pad.frames.allSatisfy { $0.orientation == .landscapeHomeRight })
        #expect(pad.frames[3].faceGrid == nil && !pad.frames[3].isValid)
        let mixed = try dataset.recording("00007")
        #expect(mixed.frames.map(\.orientation) == [.portraitUpsideDown, .landscapeHomeLeft, .portraitUpsideDown])
        #expect(mixed.frames[1].gaze == CameraSpacePoint(xCm: -4, yCm: -2))
        do {
            _ = try dataset.recording("00009")
            Issue.record("broken JSON accepted")
        } catch {
            #expect("\(error)" == "\(made.root)/00009/dotInfo.json: malformed JSON")
        }
    }

    @Test func walkSelectsSplitAndValidFramesAndNamesBrokenRecordings() throws {
        var walk = FrameWalk(try GazeCaptureDataset(root: made.root), FrameSelection(split: "test", validOnly: true))
        #expect(walk.recordings.map(\.id) == ["00002", "00005", "00007", "00009"])
        var seen: [String] = []
        walk.forEachRecording { recording, frames in
            seen += frames.map { "\(recording.id)/\($0.index)" }
        }
        #expect(seen == ["00002/0", "00002/2", "00002/4", "00005/0", "00005/1", "00005/2", "00007/0", "00007/1"])
        #expect(walk.skippedRecordings == 1 && walk.problems.map(\.path) == ["\(made.root)/00009/dotInfo.json"])
    }

    @Test func missingFolderIsExplained() {
        #expect(throws: FileFormatError.self) { try GazeCaptureDataset(root: "/nonexistent/dataset") }
    }
}
