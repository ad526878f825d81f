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
