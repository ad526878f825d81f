import CV4L2
import Foundation
import FovealIO
import FovealTensor

/// A V4L2 device as `foveal cameras` reports it.
public struct CameraDescription: Codable, Sendable {
    public var path: String
    public var card: String
    public var driver: String
    public var bus: String
    public var modes: [CameraMode]
}

/// Video4Linux2 capture through libv4l2: open by path, negotiate format, size and rate
/// (`negotiate`), stream with memory-mapped buffers, and hand out the newest frame each time
/// (older queued frames are dropped and counted). RGB24, YUYV and MJPEG frames become RGB in
/// Foveal (MJPEG with libjpeg-turbo, straight from the driver's buffer into the frame); other
/// formats go through libv4l2's conversion to RGB24.
public final class V4L2Camera: FrameSource {
    public let path: String
    public let mode: NegotiatedMode
    public let card: String
    public private(set) var dropped = 0
    public var timeoutSeconds = 2.0
    public var framesPerSecond: Double? { mode.framesPerSecond }
    public var description: String { "\(path) (\(card), \(mode.summary))" }
    /// The line `track` and `serve` print at start-up: "camera /dev/video0: 1280x720 MJPEG at 30 fps".
    public var modeLine: String { "camera \(path): \(mode.summary)" }

    private var fd: Int32 = -1
    private var buffers: [(start: UnsafeMutableRawPointer, length: Int)] = []
    private var bytesPerLine = 0
    private var index = 0
    private var streaming = false
    /// The last frame's capture time, from which the next one is expected.
    private var lastStamp: Double?
    private lazy var jpeg = JPEGDecoder(path: path, banded: true)

    /// Lists the capture devices among /dev/video*.
    public static func list() -> [CameraDescription] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []
        return names.filter { $0.hasPrefix("video") && Int($0.dropFirst(5)) != nil }
            .sorted { Int($0.dropFirst(5))! < Int($1.dropFirst(5))! }
            .compactMap { try? describe("/dev/" + $0) }
    }

    /// A device's identity and every format, size and rate it offers (through libv4l2, so
    /// emulated formats are included and marked).
    public static func describe(_ path: String) throws -> CameraDescription {
        let fd = try openDevice(path)
        defer { v4l2_close(fd) }
        let cap = try capabilities(fd, path)
        return CameraDescription(path: path, card: text(cap.card), driver: text(cap.driver), bus: text(cap.bus_info),
                                 modes: modes(fd))
    }

    /// Opens `path` (or "/dev/videoN" for a bare index) and negotiates the mode (`negotiate`).
    public init(_ pathOrIndex: String, size: (width: Int, height: Int)? = nil, framesPerSecond: Double? = nil,
                pixelFormat: String? = nil, bufferCount: Int = 4) throws {
        path = Int(pathOrIndex).map { "/dev/video\($0)" } ?? pathOrIndex
        fd = try Self.openDevice(path)
        do {
            let cap = try Self.capabilities(fd, path)
            card = Self.text(cap.card)
            let offered = Self.modes(fd)
            guard let chosen = negotiate(offered, size: size, framesPerSecond: framesPerSecond, pixelFormat: pixelFormat) else {
                let formats = Set(offered.map(\.pixelFormat)).sorted().joined(separator: ", ")
                throw CaptureError(.failed, path, "offers no \(pixelFormat ?? "RGB24, YUYV or MJPEG") mode (formats: \(formats.isEmpty ? "none" : formats))")
            }
            mode = try Self.apply(chosen, fd, path, bytesPerLine: &bytesPerLine)
            try startStreaming(bufferCount)
        } catch {
            v4l2_close(fd)
            fd = -1
            throw error
        }
    }

    deinit { close() }

    public func close() {
        guard fd >= 0 else { return }
        if streaming {
            var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            _ = foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_STREAMOFF, &type)
            streaming = false
        }
        for b in buffers { v4l2_munmap(b.start, b.length) }
        buffers = []
        v4l2_close(fd)
        fd = -1
    }

    /// Waits for a frame (up to `timeoutSeconds`), then takes every frame already queued and keeps
    /// the newest.
    public func next() throws -> Frame? {
        guard fd >= 0 else { throw CaptureError(.failed, path, "camera is closed") }
        var newest: (buffer: v4l2_buffer, taken: Int)?
        let deadline = MonotonicClock.now() + timeoutSeconds
        // Until just before the frame is expected, wait without the workers; then wake them, so
        // that they are running when it comes (`Engine.wakeWorkers`).
        if let last = lastStamp, let rate = mode.framesPerSecond, rate > 0 {
            let early = last + 1 / rate - Engine.wakeLeadSeconds - MonotonicClock.now()
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if early > 0.001, poll(&p, 1, Int32(early * 1000)) == 0 { Engine.wakeWorkers() }
        }
        while newest == nil {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(0, (deadline - MonotonicClock.now()) * 1000))
            let ready = poll(&p, 1, remaining)
            if ready < 0 {
                if errno == EINTR { continue }
                throw CaptureError(.failed, path, "poll failed: \(String(cString: strerror(errno)))")
            }
            if ready == 0 {
                throw CaptureError(.stalled, path, String(format: "no frame for %.1f s (camera stalled)", timeoutSeconds))
            }
            if p.revents & Int16(POLLERR | POLLHUP) != 0 && p.revents & Int16(POLLIN) == 0 {
                throw CaptureError(.disconnected, path, "camera disconnected")
            }
            // Drain: everything queued now is older than the last one. Poll before each dequeue
            // (libv4l2 prints a complaint for every EAGAIN).
            repeat {
                var b = v4l2_buffer()
                b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
                b.memory = V4L2_MEMORY_MMAP.rawValue
                if foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_DQBUF, &b) < 0 {
                    if errno == EAGAIN || errno == EINTR { break }
                    if errno == ENODEV || errno == EIO { throw CaptureError(.disconnected, path, "camera disconnected") }
                    throw CaptureError(.failed, path, "cannot dequeue a frame: \(String(cString: strerror(errno)))")
                }
                if var previous = newest?.buffer {
                    dropped += 1
                    _ = foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_QBUF, &previous)
                }
                newest = (b, (newest?.taken ?? 0) + 1)
                p.revents = 0
            } while poll(&p, 1, 0) > 0 && p.revents & Int16(POLLIN) != 0
        }
        var b = newest!.buffer
        defer { _ = foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_QBUF, &b) }
        let image = try convert(buffers[Int(b.index)].start, bytesUsed: Int(b.bytesused))
        // Buffers carry CLOCK_MONOTONIC time stamps: the capture time, not the dequeue time.
        var stamp = Double(b.timestamp.tv_sec) + Double(b.timestamp.tv_usec) / 1e6
        if stamp <= 0 { stamp = MonotonicClock.now() }
        lastStamp = stamp
        defer { index += 1 }
        return Frame(image: image, timestamp: stamp, index: index)
    }

    private func convert(_ data: UnsafeMutableRawPointer, bytesUsed: Int) throws -> RGBImage {
        let (w, h) = (mode.width, mode.height)
        let bytes = data.assumingMemoryBound(to: UInt8.self)
        var image = RGBImage(uninitializedWidth: w, height: h)
        switch mode.pixelFormat {
        case "RGB3":
            guard bytesUsed >= bytesPerLine * (h - 1) + w * 3 else {
                throw CaptureError(.failed, path, "short frame: \(bytesUsed) bytes for \(w)x\(h) RGB24")
            }
            image.pixels.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h { (dst.baseAddress! + y * w * 3).update(from: bytes + y * bytesPerLine, count: w * 3) }
            }
        case "YUYV":
            guard bytesUsed >= bytesPerLine * (h - 1) + w * 2 else {
                throw CaptureError(.failed, path, "short frame: \(bytesUsed) bytes for \(w)x\(h) YUYV")
            }
            let stride = bytesPerLine
            image.pixels.withUnsafeMutableBufferPointer { dst in
                let out = dst.baseAddress!
                parallelChunks(h, minimumChunk: YCbCr.rowsPerChunk) { rows in
                    for y in rows { YCbCr.yuyvRow(bytes + y * stride, into: out + y * w * 3, width: w) }
                }
            }
        case "MJPG":
            do {
                try jpeg.decode(UnsafeRawBufferPointer(start: data, count: bytesUsed), into: &image)
            } catch let e as FileFormatError {
                throw CaptureError(.failed, path, "frame \(index): \(e.problem)")
            }
            guard image.width == w, image.height == h else {
                throw CaptureError(.failed, path, "an MJPEG frame of \(image.width)x\(image.height) in a \(w)x\(h) stream")
            }
        default:
            throw CaptureError(.failed, path, "cannot convert \(mode.pixelFormat)")
        }
        return image
    }

    private func startStreaming(_ count: Int) throws {
        var request = v4l2_requestbuffers()
        request.count = UInt32(count)
        request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        request.memory = V4L2_MEMORY_MMAP.rawValue
        try ioctlOrThrow(FOVEAL_VIDIOC_REQBUFS, &request, "cannot allocate buffers")
        guard request.count >= 1 else { throw CaptureError(.failed, path, "the driver gave no buffers") }
        for i in 0..<request.count {
            var b = v4l2_buffer()
            b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            b.memory = V4L2_MEMORY_MMAP.rawValue
            b.index = i
            try ioctlOrThrow(FOVEAL_VIDIOC_QUERYBUF, &b, "cannot query buffer \(i)")
            guard let start = v4l2_mmap(nil, Int(b.length), PROT_READ | PROT_WRITE, MAP_SHARED, fd, Int64(b.m.offset)),
                  start != MAP_FAILED else {
                throw CaptureError(.failed, path, "cannot map buffer \(i): \(String(cString: strerror(errno)))")
            }
            buffers.append((start, Int(b.length)))
            try ioctlOrThrow(FOVEAL_VIDIOC_QBUF, &b, "cannot queue buffer \(i)")
        }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try ioctlOrThrow(FOVEAL_VIDIOC_STREAMON, &type, "cannot start streaming")
        streaming = true
    }

    private func ioctlOrThrow<T>(_ request: UInt, _ argument: inout T, _ what: String) throws {
        while foveal_v4l2_ioctl(fd, request, &argument) < 0 {
            if errno == EINTR { continue }
            let kind: CaptureError.Kind = errno == EBUSY ? .busy : errno == ENODEV ? .disconnected : .failed
            if errno == EBUSY { throw CaptureError(.busy, path, "camera is busy (another program is using it)") }
            if errno == ENODEV { throw CaptureError(.disconnected, path, "camera disconnected") }
            throw CaptureError(kind, path, "\(what): \(String(cString: strerror(errno)))")
        }
    }

    /// Opens the device, checks it is V4L2 before libv4l2 sees it (libv4l2 would print its own
    /// complaints on stderr), then hands it to libv4l2.
    static func openDevice(_ path: String) throws -> Int32 {
        silenceLibV4L2
        let fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            switch errno {
            case ENOENT: throw CaptureError(.notFound, path, "no such camera")
            case EBUSY: throw CaptureError(.busy, path, "camera is busy (another program is using it)")
            case ENODEV, ENXIO: throw CaptureError(.disconnected, path, "camera disconnected")
            case EACCES: throw CaptureError(.failed, path, "permission denied (is the user in the 'video' group?)")
            default: throw CaptureError(.failed, path, "cannot open: \(String(cString: strerror(errno)))")
            }
        }
        var cap = v4l2_capability()
        guard foveal_raw_ioctl(fd, FOVEAL_VIDIOC_QUERYCAP, &cap) == 0 else {
            Glibc.close(fd)
            throw CaptureError(.notACamera, path, "not a V4L2 device")
        }
        let wrapped = v4l2_fd_open(fd, 0)
        guard wrapped >= 0 else {
            Glibc.close(fd)
            throw CaptureError(.failed, path, "libv4l2 cannot use it: \(String(cString: strerror(errno)))")
        }
        return wrapped
    }

    /// libv4l2 prints its own complaints (busy device, EAGAIN) on stderr; Foveal reports each
    /// failure itself, on one line.
    static let silenceLibV4L2: Void = { foveal_v4l2_silence() }()

    static func capabilities(_ fd: Int32, _ path: String) throws -> v4l2_capability {
        var cap = v4l2_capability()
        guard foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_QUERYCAP, &cap) == 0 else {
            throw CaptureError(.notACamera, path, "not a V4L2 device")
        }
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 else { throw CaptureError(.notACamera, path, "not a video capture device") }
        guard caps & UInt32(V4L2_CAP_STREAMING) != 0 else { throw CaptureError(.notACamera, path, "does not support streaming") }
        return cap
    }

    static func modes(_ fd: Int32) -> [CameraMode] {
        var modes: [CameraMode] = []
        var f = v4l2_fmtdesc()
        f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        while foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_ENUM_FMT, &f) == 0 {
            let fourcc = FourCC.string(f.pixelformat)
            let emulated = f.flags & UInt32(V4L2_FMT_FLAG_EMULATED) != 0
            var s = v4l2_frmsizeenum()
            s.pixel_format = f.pixelformat
            var sizes: [(Int, Int)] = []
            while foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_ENUM_FRAMESIZES, &s) == 0 {
                if s.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                    sizes.append((Int(s.discrete.width), Int(s.discrete.height)))
                } else {
                    // Stepwise or continuous: offer the common sizes inside the range.
                    let r = s.stepwise
                    for (w, h) in [(320, 240), (640, 480), (1280, 720)] where
                        w >= r.min_width && w <= r.max_width && h >= r.min_height && h <= r.max_height {
                        sizes.append((w, h))
                    }
                    break
                }
                s.index += 1
            }
            for (w, h) in sizes {
                var i = v4l2_frmivalenum()
                i.pixel_format = f.pixelformat
                i.width = UInt32(w)
                i.height = UInt32(h)
                var rates: [Double] = []
                while foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_ENUM_FRAMEINTERVALS, &i) == 0 {
                    if i.type == V4L2_FRMIVAL_TYPE_DISCRETE.rawValue, i.discrete.numerator > 0 {
                        rates.append(Double(i.discrete.denominator) / Double(i.discrete.numerator))
                    } else if i.stepwise.min.numerator > 0 {
                        rates.append(Double(i.stepwise.min.denominator) / Double(i.stepwise.min.numerator))
                        break
                    }
                    i.index += 1
                }
                modes.append(CameraMode(pixelFormat: fourcc, width: w, height: h, framesPerSecond: rates.sorted(), emulated: emulated))
            }
            f.index += 1
        }
        return modes
    }

    static func apply(_ chosen: NegotiatedMode, _ fd: Int32, _ path: String, bytesPerLine: inout Int) throws -> NegotiatedMode {
        var format = v4l2_format()
        format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        format.fmt.pix.width = UInt32(chosen.width)
        format.fmt.pix.height = UInt32(chosen.height)
        format.fmt.pix.pixelformat = FourCC.code(chosen.pixelFormat)
        format.fmt.pix.field = V4L2_FIELD_NONE.rawValue
        guard foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_S_FMT, &format) == 0 else {
            throw CaptureError(errno == EBUSY ? .busy : .failed, path,
                               errno == EBUSY ? "camera is busy (another program is using it)" : "cannot set \(chosen.width)x\(chosen.height) \(chosen.pixelFormat): \(String(cString: strerror(errno)))")
        }
        var result = chosen
        result.width = Int(format.fmt.pix.width)
        result.height = Int(format.fmt.pix.height)
        result.pixelFormat = FourCC.string(format.fmt.pix.pixelformat)
        let minimum = result.width * (result.pixelFormat == "YUYV" ? 2 : 3)
        bytesPerLine = max(Int(format.fmt.pix.bytesperline), minimum)
        if let fps = chosen.framesPerSecond, fps > 0 {
            var parm = v4l2_streamparm()
            parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            parm.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32((fps * 1000).rounded()))
            if foveal_v4l2_ioctl(fd, FOVEAL_VIDIOC_S_PARM, &parm) == 0, parm.parm.capture.timeperframe.numerator > 0 {
                result.framesPerSecond = Double(parm.parm.capture.timeperframe.denominator) / Double(parm.parm.capture.timeperframe.numerator)
            }
        }
        return result
    }

    static func text<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// V4L2 pixel-format codes and their four-character names.
public enum FourCC {
    public static func string(_ code: UInt32) -> String {
        String(decoding: (0..<4).map { UInt8((code >> (8 * $0)) & 0xff) }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    public static func code(_ name: String) -> UInt32 {
        let bytes = Array((name + "    ").utf8.prefix(4))
        return (0..<4).reduce(0) { $0 | UInt32(bytes[$1]) << (8 * $1) }
    }
}
