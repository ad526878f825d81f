import Foundation
import FovealIO
import FovealTestSupport
import Testing

/// EDIDs of real displays (Tests/Fixtures/edid/make_edid.py says where from) and blobs derived
/// from them.
@Suite struct EDIDParsing {
    func edid(_ name: String) throws -> EDID { try EDID(contentsOf: Fixtures.path("edid/\(name)")) }

    @Test func aMonitorsSizeComesFromItsPreferredTiming() throws {
        let dell = try edid("dell-u2415.bin")
        #expect(dell.manufacturer == "DEL" && dell.name == "DELL U2415" && (dell.version, dell.revision) == (1, 3))
        #expect((dell.widthMm, dell.heightMm) == (518, 324) && dell.sizeSource == .detailedTiming)
        #expect((dell.nativeWidthPx, dell.nativeHeightPx) == (1920, 1200))
    }

    @Test func aLaptopPanelWithoutAName() throws {
        let panel = try edid("auo-b140-laptop.bin")
        #expect(panel.manufacturer == "AUO" && panel.name == nil && (panel.version, panel.revision) == (1, 4))
        #expect((panel.widthMm, panel.heightMm) == (309, 173) && (panel.nativeWidthPx, panel.nativeHeightPx) == (1920, 1080))
        #expect(panel.summary.contains("AUO 103D") && panel.summary.contains("309 x 173 mm"))
    }

    @Test func withoutATimingSizeTheBasicBlocksCentimetres() throws {
        let panel = try edid("no-timing-size.bin")
        #expect((panel.widthMm, panel.heightMm) == (310, 170) && panel.sizeSource == .basicBlock)
    }

    @Test(arguments: [("no-size.bin", "no physical size"), ("bad-checksum.bin", "checksum"), ("truncated.bin", "100 bytes, an EDID has at least 128")])
    func aBrokenEDIDIsRefusedNamingTheFile(_ name: String, _ reason: String) throws {
        #expect { try edid(name) } throws: { error in
            let text = "\(error)"
            return text.contains(name) && text.contains(reason)
        }
    }

    @Test func notAnEDIDAtAll() throws {
        #expect { try EDID(contentsOf: Fixtures.path("images/grey.png")) } throws: { "\($0)".contains("not an EDID") }
        #expect { try EDID(contentsOf: "/nonexistent/edid") } throws: { "\($0)".contains("/nonexistent/edid: cannot read") }
    }

    /// The kernel's layout: /sys/class/drm/cardN-OUTPUT/{status,edid}; the GPU itself and
    /// disconnected outputs are left out.
    @Test func connectedOutputsAreListedByConnector() throws {
        let root = try fakeDRM()
        let outputs = EDID.connectedOutputs(root: root)
        #expect(outputs.map(\.name) == ["DP-1", "eDP-1"])
        #expect((try outputs[0].edid.get()).name == "DELL U2415")
        #expect(EDID.connectedOutputs(root: "/nonexistent").isEmpty)
    }
}
