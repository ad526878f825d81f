import Foundation

/// A /sys/class/drm with a monitor on DP-1, the laptop panel on eDP-1 and nothing on HDMI-A-1.
public func fakeDRM() throws -> String {
    let root = Fixtures.temporaryDirectory() + "/drm"
    let fm = FileManager.default
    for (entry, status, edid) in [("card0", nil, nil), ("card0-DP-1", "connected", "dell-u2415.bin"),
                                  ("card0-eDP-1", "connected", "auo-b140-laptop.bin"), ("card0-HDMI-A-1", "disconnected", nil)] {
        try fm.createDirectory(atPath: root + "/" + entry, withIntermediateDirectories: true)
        if let status { try (status + "\n").write(toFile: root + "/" + entry + "/status", atomically: true, encoding: .utf8) }
        let blob = try edid.map { try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("edid/" + $0))) } ?? Data()
        if status != nil { fm.createFile(atPath: root + "/" + entry + "/edid", contents: blob) }
    }
    return root
}
