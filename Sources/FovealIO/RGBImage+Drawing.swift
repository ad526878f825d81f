/// Just enough drawing for figures: scaled copies, lines, dots.
extension RGBImage {
    /// Copies `source` scaled (nearest neighbour) into the rectangle at (x, y) of size w x h.
    public mutating func blit(_ source: RGBImage, x: Int, y: Int, width w: Int, height h: Int) {
        for row in 0..<h {
            let sy = min(source.height - 1, row * source.height / max(1, h))
            for col in 0..<w {
                let sx = min(source.width - 1, col * source.width / max(1, w))
                let (tx, ty) = (x + col, y + row)
                guard tx >= 0, tx < width, ty >= 0, ty < height else { continue }
                for c in 0..<3 { pixels[(ty * width + tx) * 3 + c] = source.pixels[(sy * source.width + sx) * 3 + c] }
            }
        }
    }

    /// Sets one pixel if it is inside the image.
    public mutating func plot(_ x: Int, _ y: Int, _ colour: (UInt8, UInt8, UInt8)) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let i = (y * width + x) * 3
        (pixels[i], pixels[i + 1], pixels[i + 2]) = colour
    }

    /// A one-pixel line between two points.
    public mutating func line(from a: (Double, Double), to b: (Double, Double), _ colour: (UInt8, UInt8, UInt8)) {
        let steps = Int(max(abs(b.0 - a.0), abs(b.1 - a.1)).rounded(.up)) + 1
        for s in 0...steps {
            let t = Double(s) / Double(max(1, steps))
            plot(Int((a.0 + (b.0 - a.0) * t).rounded()), Int((a.1 + (b.1 - a.1) * t).rounded()), colour)
        }
    }
}
