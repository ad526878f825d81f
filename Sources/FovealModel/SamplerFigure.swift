import FovealIO
import FovealTensor

/// The paper's Fig. 4 for one frame, as one image of panels side by side: the low-resolution
/// input the saliency network sees, the saliency map as a heat map, the sampling grid drawn over
/// the frame, and the resampled image J the task network sees (for the plain-AlexNet baseline:
/// the frame and its uniform downsampling).
public enum SamplerFigure {
    public static func render(_ model: GazeNet, frame: RGBImage, panelHeight: Int = 320) throws -> RGBImage {
        let input = try ImageNormalization.pixelBatch([frame])
        let output = model(input)
        let frameWidth = panelHeight * frame.width / frame.height
        var panels: [(RGBImage, Int)] = []
        if model.config.sampler, let map = output.saliency, let grid = output.grid {
            let low = input.areaAveraged(height: model.config.saliencySize, width: model.config.saliencySize)
            panels.append((image(of: low), panelHeight * frame.width / frame.height))
            panels.append((heatMap(map), panelHeight))
            panels.append((gridOverlay(frame, grid: grid, width: frameWidth, height: panelHeight), frameWidth))
        } else {
            panels.append((frame, frameWidth))
        }
        panels.append((image(of: output.resampled), panelHeight))
        let gap = 8
        let width = panels.map(\.1).reduce(0, +) + gap * (panels.count - 1)
        var figure = RGBImage(width: width, height: panelHeight, pixels: [UInt8](repeating: 255, count: width * panelHeight * 3))
        var x = 0
        for (panel, width) in panels {
            figure.blit(panel, x: x, y: 0, width: width, height: panelHeight)
            x += width + gap
        }
        return figure
    }

    /// A normalised (1, 3, H, W) tensor back to 8-bit RGB.
    public static func image(of t: Tensor) -> RGBImage {
        let (h, w) = (t.shape[2], t.shape[3])
        var out = RGBImage(width: w, height: h)
        for c in 0..<3 {
            for i in 0..<(h * w) {
                let v = (t[flat: c * h * w + i] * ImageNormalization.std[c] + ImageNormalization.mean[c]) * 255
                out.pixels[i * 3 + c] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return out
    }

    /// A (1, 1, G, G) map as a heat map from black through red and yellow to white, scaled to its maximum.
    public static func heatMap(_ map: Tensor) -> RGBImage {
        let g = map.shape[3]
        let peak = max(map.values.max() ?? 1, 1e-12)
        var out = RGBImage(width: g, height: g)
        for i in 0..<(g * g) {
            let t = Double(map[flat: i] / peak)
            let (r, gr, b) = (min(1, t * 3), min(1, max(0, t * 3 - 1)), min(1, max(0, t * 3 - 2)))
            out.pixels[i * 3] = UInt8(r * 255); out.pixels[i * 3 + 1] = UInt8(gr * 255); out.pixels[i * 3 + 2] = UInt8(b * 255)
        }
        return out
    }

    /// The frame at the panel size with the sampling grid drawn on it: 16 or so of its rows and
    /// columns (every T/16-th of the T x T grid), so the lines stay apart at any task size.
    public static func gridOverlay(_ frame: RGBImage, grid: Tensor, width: Int, height: Int) -> RGBImage {
        var out = RGBImage(width: width, height: height)
        out.blit(frame, x: 0, y: 0, width: width, height: height)
        let t = grid.shape[1], step = max(1, t / 16)
        // Grid entries are edge-aligned: -1 is the left edge, 1 the right edge.
        func point(_ i: Int, _ j: Int) -> (Double, Double) {
            ((Double(grid[flat: (i * t + j) * 2]) + 1) / 2 * Double(width), (Double(grid[flat: (i * t + j) * 2 + 1]) + 1) / 2 * Double(height))
        }
        let colour: (UInt8, UInt8, UInt8) = (0, 255, 120)
        for i in stride(from: 0, to: t, by: step) {
            for j in stride(from: 0, to: t - step, by: step) { out.line(from: point(i, j), to: point(i, j + step), colour) }
        }
        for j in stride(from: 0, to: t, by: step) {
            for i in stride(from: 0, to: t - step, by: step) { out.line(from: point(i, j), to: point(i + step, j), colour) }
        }
        return out
    }
}
