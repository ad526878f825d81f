import Foundation

/// A file that cannot be read as what it claims to be: names the file and what is wrong, in one
/// line, so that a command can print it as it is.
public struct FileFormatError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// A whole number read from a file or an option, converted only when it is one and lies in
/// `range`: `Int(Double)` traps on NaN, an infinity or a value past Int's range, and a count or a
/// code outside its range is a wrong number anyway. nil tells the caller to refuse it by name.
public func wholeNumber(_ value: Double, in range: ClosedRange<Int>) -> Int? {
    guard value.isFinite, value == value.rounded(), value >= Double(range.lowerBound), value <= Double(range.upperBound) else { return nil }
    return Int(value)
}

/// Checks a path a command is about to write a regular file at: it may be absent or a regular
/// file; a symbolic link, FIFO, device or folder is refused rather than replaced (as root, a
/// careless `--predictions /dev/full` would otherwise replace the device).
public func checkWritableRegularFile(_ path: String) throws {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }  // absent: it will be created
    switch info.st_mode & S_IFMT {
    case S_IFREG: return
    case S_IFLNK: throw FileFormatError(path, "is a symbolic link: give the file it points to")
    case S_IFDIR: throw FileFormatError(path, "is a folder, not a file")
    default: throw FileFormatError(path, "is not a regular file (a FIFO, socket or device): Foveal will not replace it")
    }
}
