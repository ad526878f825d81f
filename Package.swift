// swift-tools-version:6.0
import PackageDescription

// Modules point inward: the CLI on everything, the service on tracking and the store, tracking on
// capture, the model and the store; the dataset format, capture and the store never on the network.
// C libraries stay in tiny system-library shims.
let package = Package(
    name: "Foveal",
    products: [
        .executable(name: "foveal", targets: ["foveal"]),
        .library(name: "FovealModel", targets: ["FovealModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(name: "CKernels"),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // A frame's journey, from the bottom up: tensors, files, geometry, the network; the dataset
        // format and the frame sources; the store; evaluation and training above dataset and model;
        // the live loop and calibration session above capture, model and store; the service; the CLI.
        .target(name: "FovealTensor", dependencies: ["CBLAS", "CMalloc", "CKernels"]),
        .target(name: "FovealIO", dependencies: ["FovealTensor", "CPNG", "CTurboJPEG", "CJPEG", "CZlib"]),
        .target(name: "FovealGeometry"),
        .target(name: "FovealModel", dependencies: ["FovealTensor", "FovealIO", "FovealGeometry"]),
        .target(name: "GazeCapture", dependencies: ["FovealGeometry", "FovealIO", "FovealTensor"]),
        .target(name: "MPIIFaceGaze", dependencies: ["GazeCapture", "FovealGeometry", "FovealIO"]),
        .target(name: "SyntheticGaze", dependencies: ["GazeCapture", "FovealGeometry", "FovealIO", "FovealTensor"]),
        .target(name: "FovealCapture", dependencies: ["CV4L2", "CKernels", "FovealIO", "FovealGeometry", "FovealTensor", "GazeCapture"]),
        .target(name: "FovealCalibration", dependencies: ["FovealGeometry", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "FovealEvaluation", dependencies: ["GazeCapture", "FovealModel", "FovealCalibration", "FovealGeometry", "FovealIO", "FovealTensor"]),
        .target(name: "FovealTraining", dependencies: ["FovealModel", "GazeCapture", "FovealEvaluation", "FovealIO", "FovealTensor"]),
        .target(name: "FovealTracking", dependencies: ["FovealCapture", "FovealModel", "FovealCalibration", "FovealGeometry", "FovealIO"]),
        .target(name: "FovealService", dependencies: [
            "FovealTracking", "FovealCalibration", "FovealCapture", "FovealModel", "FovealGeometry",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ], resources: [.embedInCode("Page/index.html")]),
        .executableTarget(name: "foveal", dependencies: [
            "FovealModel", "FovealIO", "FovealTensor", "FovealGeometry", "GazeCapture", "MPIIFaceGaze", "SyntheticGaze", "FovealEvaluation",
            "FovealTraining", "FovealCapture", "FovealTracking", "FovealCalibration", "FovealService",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .target(name: "FovealTestSupport", dependencies: ["FovealIO", "FovealTensor"], path: "Tests/FovealTestSupport"),
        .testTarget(name: "FovealTensorTests", dependencies: ["FovealTensor", "FovealIO", "FovealTestSupport"]),
        .testTarget(name: "FovealIOTests", dependencies: ["FovealIO", "FovealTestSupport"]),
        .testTarget(name: "FovealModelTests", dependencies: ["FovealModel", "FovealIO", "FovealTestSupport"]),
        .testTarget(name: "FovealGeometryTests", dependencies: ["FovealGeometry", "FovealTestSupport"]),
        .testTarget(name: "GazeCaptureTests", dependencies: ["GazeCapture", "SyntheticGaze", "FovealTestSupport"]),
        .testTarget(name: "MPIIFaceGazeTests", dependencies: ["MPIIFaceGaze", "GazeCapture", "FovealIO", "FovealGeometry", "FovealTestSupport"]),
        .testTarget(name: "FovealEvaluationTests", dependencies: ["FovealEvaluation", "FovealModel", "GazeCapture", "FovealTestSupport"]),
        .testTarget(name: "FovealTrainingTests", dependencies: ["FovealTraining", "SyntheticGaze", "FovealTestSupport"]),
        .testTarget(name: "FovealCaptureTests", dependencies: ["FovealCapture", "FovealTracking", "FovealTestSupport", "GazeCapture", "SyntheticGaze"]),
        .testTarget(name: "FovealCalibrationTests", dependencies: ["FovealCalibration", "FovealTestSupport"]),
        .testTarget(name: "FovealTrackingTests", dependencies: [
            "FovealTracking", "FovealCalibration", "FovealCapture", "FovealIO", "FovealModel", "FovealTensor", "FovealTestSupport",
        ]),
        .testTarget(name: "FovealCLITests", dependencies: ["foveal", "FovealIO", "FovealModel", "FovealTensor", "FovealTestSupport"]),
        .testTarget(name: "FovealServiceTests", dependencies: [
            "foveal", "FovealService", "FovealTracking", "FovealTestSupport", "FovealIO",
            .product(name: "WSClient", package: "swift-websocket"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
    ]
)

// `make fuzz` only (FOVEAL_FUZZ=1, built with -sanitize=fuzzer,address): the libFuzzer harnesses
// of every parser. Other builds never see this target, whose entry point libFuzzer provides.
if Context.environment["FOVEAL_FUZZ"] == "1" {
    package.targets.append(.executableTarget(name: "FovealFuzz", dependencies: [
        "FovealIO", "FovealCapture", "FovealCalibration", "FovealService", "GazeCapture", "MPIIFaceGaze",
    ]))
}
