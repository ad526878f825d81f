import CKernels
import FovealTensor

/// BT.601 video-range YCbCr to 8-bit RGB: what webcams' YUYV and ffmpeg's yuv420p hold. The
/// arithmetic (16-bit fixed point, rounding half up) is `CKernels/ycbcr.h`'s, one loop that the
/// compiler vectorises, taken in its AVX2 build where the processor has AVX2: a 1080p frame is
/// 2 M pixels, 30 times a second, in front of the model.
public enum YCbCr {
    /// Whether rows go through the AVX2 build of the kernel. Both builds give the same bytes.
    public static let vectorKernel = ProcessorFeatures.avx2

    /// Where a row's chroma comes from.
    public enum Chroma: Int32, Sendable {
        /// Grey: neutral chroma.
        case none = 0
        /// One sample per pixel (4:4:4).
        case full = 1
        /// One sample per pair of pixels, `(width + 1) / 2` a row (4:2:0, 4:2:2).
        case halfWidth = 2
    }

    /// One row of a planar frame into `width` interleaved RGB pixels.
    @inline(__always)
    public static func planarRow(y: UnsafePointer<UInt8>, cb: UnsafePointer<UInt8>, cr: UnsafePointer<UInt8>, chroma: Chroma,
                                 into out: UnsafeMutablePointer<UInt8>, width: Int, vector: Bool = vectorKernel) {
        foveal_ycbcr_planar_row(y, cb, cr, chroma.rawValue, out, width, vector ? 1 : 0)
    }

    /// One row of packed YUYV (Y0 U Y1 V per pair of pixels) into `width` RGB pixels.
    @inline(__always)
    public static func yuyvRow(_ line: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<UInt8>, width: Int,
                               vector: Bool = vectorKernel) {
        foveal_yuyv_row(line, out, width, vector ? 1 : 0)
    }

    /// One pixel, through the same kernel.
    public static func rgb(_ y: UInt8, _ cb: UInt8, _ cr: UInt8) -> (UInt8, UInt8, UInt8) {
        var (y, cb, cr) = (y, cb, cr)
        var out: (UInt8, UInt8, UInt8) = (0, 0, 0)
        withUnsafeMutableBytes(of: &out) { foveal_ycbcr_run(&y, &cb, &cr, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), 1) }
        return out
    }

    /// Rows of a frame converted per worker at least (`parallelChunks`).
    static let rowsPerChunk = 64
}
