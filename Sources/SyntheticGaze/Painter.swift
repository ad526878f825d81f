import FovealIO
import FovealTensor

/// A floating-point RGB canvas with soft-edged shapes: enough to draw a face whose features sit
/// at sub-pixel precision (the iris moves a few pixels across the whole screen).
struct Canvas {
    let width: Int, height: Int
    var pixels: [Float]  // width * height * 3

    init(width: Int, height: Int) {
        (self.width, self.height) = (width, height)
        pixels = [Float](repeating: 0, count: width * height * 3)
    }

    /// Blends `colour` with coverage `alpha(x, y)` over the box (clipped), where alpha is 0...1.
    mutating func paint(box: (x0: Double, y0: Double, x1: Double, y1: Double), colour: (Int, Int) -> RGB?,
                        alpha: (Double, Double) -> Double) {
        let x0 = max(0, Int(box.x0.rounded(.down))), x1 = min(width - 1, Int(box.x1.rounded(.up)))
        let y0 = max(0, Int(box.y0.rounded(.down))), y1 = min(height - 1, Int(box.y1.rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        pixels.withUnsafeMutableBufferPointer { p in
            for y in y0...y1 {
                for x in x0...x1 {
                    let a = alpha(Double(x) + 0.5, Double(y) + 0.5)
                    guard a > 0, let c = colour(x, y) else { continue }
                    let i = (y * width + x) * 3, af = Float(min(1, a))
                    p[i] += (Float(c.r) - p[i]) * af
                    p[i + 1] += (Float(c.g) - p[i + 1]) * af
                    p[i + 2] += (Float(c.b) - p[i + 2]) * af
                }
            }
        }
    }

    /// An ellipse with centre c and semi-axis vectors a1, a2 (pixels), soft over about one pixel.
    mutating func ellipse(centre c: (x: Double, y: Double), _ a1: (x: Double, y: Double), _ a2: (x: Double, y: Double),
                          colour: RGB, shade: ((Double, Double) -> Double)? = nil, opacity: Double = 1) {
        let det = a1.x * a2.y - a2.x * a1.y
        guard abs(det) > 1e-9 else { return }
        let extentX = abs(a1.x) + abs(a2.x), extentY = abs(a1.y) + abs(a2.y)
        // Radius in pixels along the shorter axis: converts the normalised radius to a pixel edge width.
        let scale = min((a1.x * a1.x + a1.y * a1.y).squareRoot(), (a2.x * a2.x + a2.y * a2.y).squareRoot())
        paint(box: (c.x - extentX - 1, c.y - extentY - 1, c.x + extentX + 1, c.y + extentY + 1),
              colour: { x, y in
                  guard let shade else { return colour }
                  return colour.scaled(shade(Double(x), Double(y)))
              },
              alpha: { x, y in
                  let dx = x - c.x, dy = y - c.y
                  let s = (dx * a2.y - dy * a2.x) / det, t = (a1.x * dy - a1.y * dx) / det
                  return opacity * min(1, max(0, 0.5 - ((s * s + t * t).squareRoot() - 1) * scale))
              })
    }

    /// A thick line through points (a polyline), soft-edged.
    mutating func stroke(_ points: [(x: Double, y: Double)], width w: Double, colour: RGB, opacity: Double = 1) {
        for (a, b) in zip(points, points.dropFirst()) {
            let dx = b.x - a.x, dy = b.y - a.y, len2 = max(1e-9, dx * dx + dy * dy)
            paint(box: (min(a.x, b.x) - w, min(a.y, b.y) - w, max(a.x, b.x) + w, max(a.y, b.y) + w),
                  colour: { _, _ in colour },
                  alpha: { x, y in
                      let t = min(1, max(0, ((x - a.x) * dx + (y - a.y) * dy) / len2))
                      let px = a.x + t * dx - x, py = a.y + t * dy - y
                      return opacity * min(1, max(0, 0.5 - ((px * px + py * py).squareRoot() - w / 2)))
                  })
        }
    }

    /// The image, with sensor noise of standard deviation `noise` levels, rounded to 8 bits;
    /// `gain` scales every channel and `tint` each one.
    func image(noise: Double, gain: Double, tint: (r: Double, g: Double, b: Double) = (1, 1, 1), rng: inout SplitMix64) -> RGBImage {
        var bytes = [UInt8](repeating: 0, count: pixels.count)
        // The sum of two uniforms (triangular, variance 1/6) is close enough to sensor noise and
        // costs half a random draw per channel.
        let scale = Float(noise) * 6.0.squareRoot().float / 65536
        let gains = SIMD3<Float>(Float(gain * tint.r), Float(gain * tint.g), Float(gain * tint.b))
        var state = rng.next() | 1
        pixels.withUnsafeBufferPointer { src in
            bytes.withUnsafeMutableBufferPointer { dst in
                var i = 0, channel = 0
                while i < src.count {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    var bits = state
                    for _ in 0..<2 where i < src.count {
                        let a = Float(bits & 0xffff), b = Float((bits >> 16) & 0xffff)
                        bits >>= 32
                        let v = src[i] * gains[channel] + (a + b - 65535) * scale + 0.5
                        dst[i] = UInt8(max(0, min(255, v)))
                        i += 1
                        channel = channel == 2 ? 0 : channel + 1
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: bytes)
    }
}

extension Double {
    var float: Float { Float(self) }
}
