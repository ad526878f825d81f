import Foundation

/// A one-line progress bar with rate and ETA on standard error, drawn only when standard error
/// is a terminal (pipes and logs stay clean).
final class ProgressBar {
    let label: String
    let start = Date()
    let enabled = isatty(STDERR_FILENO) != 0
    private var lastDraw = Date.distantPast

    init(label: String) { self.label = label }

    /// `done` of `total` units; `extra` is appended (e.g. a running loss).
    func update(done: Int, total: Int, unit: String = "frames", extra: String = "") {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.2 || done >= total else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(start)
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let width = 30, filled = Int(fraction * Double(width))
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "\r%@ [%@] %d/%d %@  %.1f/s  ETA %@ %@", label, bar, done, total, unit, rate,
                          Self.clock(eta), extra)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
