"""Writes Tests/Fixtures/mpiifacegaze: a small folder in MPIIFaceGaze's layout (Zhang et al., CVPRW 2017),
made apart from Foveal's reader so that the reader is tested against someone else's idea of the format.

    python3 Tests/Fixtures/make_mpiifacegaze.py .build/debug/foveal

- Frames: the project's own synthetic renders at 1280x720 (`foveal synth --frame-size 1280x720`).
- Per participant: pXX/pXX.txt, pXX/dayNN/NNNN.jpg and pXX/Calibration/{Camera,monitorPose,screenSize}.mat,
  written with scipy (level 5; one participant's compressed, the other's not).
- p00's screen is upright above the camera; p01's is tilted back by 12 degrees and pushed 5 mm forward.
- mpiifacegaze.expected.json: for every line, the label Foveal should compute (camera space, cm), worked out here from
  the screen geometry, and the 3-D target and face centre that angular errors need.
- Tests/Fixtures/mat/cell.mat: a MAT-file holding a cell array, which the reader must refuse.

Needs numpy and scipy (never in CI: the output is committed).
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import scipy.io
from scipy.spatial.transform import Rotation

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "mpiifacegaze")

# Screen coordinates (MPIIGaze's): origin at the screen's top-left corner, x right and y down as the
# user sees it, mm, z = 0 on the screen. A screen point s sits at R s + T in the camera's coordinates
# (OpenCV: x right in the image, y down, z forward). The camera faces the user, so an upright screen
# below it has R = rotation by pi about y: screen x is camera -x, screen y is camera y.
PARTICIPANTS = {
    "p00": dict(px=(1280, 800), mm=(286.5, 179.0), rvec=Rotation.from_rotvec([0, math.pi, 0]),
                tvec=[143.25, 8.0, 0.0], compress=True, days=2, seed=5),
    "p01": dict(px=(1920, 1080), mm=(344.0, 194.0),
                rvec=Rotation.from_rotvec([0, math.pi, 0]) * Rotation.from_euler("x", 12, degrees=True),
                tvec=[172.0, 10.0, 5.0], compress=False, days=2, seed=6),
}


def label_cm(R, T, gt):
    """The documented conversion: the target in screen coordinates, from the camera's foot on the
    screen plane, x right and y up, in cm."""
    s = R.T @ (np.asarray(gt) - T)
    c = R.T @ (-np.asarray(T))
    return [(s[0] - c[0]) / 10, -(s[1] - c[1]) / 10]


def main(foveal):
    rng = np.random.default_rng(11)
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    expected = {"frames": {}, "participants": {}}
    for person, p in PARTICIPANTS.items():
        synth = tempfile.mkdtemp()
        shutil.rmtree(synth)
        subprocess.run([foveal, "synth", "--out", synth, "--recordings", str(p["days"]), "--dots", "4", "--frames-per-dot", "1",
                        "--seed", str(p["seed"]), "--frame-size", "1280x720", "--setup", "phone"], check=True,
                       stdout=subprocess.DEVNULL)
        root = os.path.join(OUT, person)
        os.makedirs(os.path.join(root, "Calibration"))
        R = p["rvec"].as_matrix()
        T = np.array(p["tvec"])
        camera = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
        dist = np.array([[0.05, -0.1, 0.001, -0.002, 0.02]])
        scipy.io.savemat(os.path.join(root, "Calibration", "Camera.mat"),
                         {"cameraMatrix": camera, "distCoeffs": dist}, do_compression=p["compress"])
        scipy.io.savemat(os.path.join(root, "Calibration", "monitorPose.mat"),
                         {"rvects": p["rvec"].as_rotvec().reshape(3, 1), "tvecs": T.reshape(3, 1)}, do_compression=p["compress"])
        scipy.io.savemat(os.path.join(root, "Calibration", "screenSize.mat"),
                         {"width_pixel": float(p["px"][0]), "height_pixel": float(p["px"][1]),
                          "width_mm": p["mm"][0], "height_mm": p["mm"][1]}, do_compression=p["compress"])
        expected["participants"][person] = {"R": R.tolist(), "T": T.tolist(), "screen_px": list(p["px"]),
                                            "screen_mm": list(p["mm"]), "camera_matrix": camera.tolist(),
                                            "dist_coeffs": dist.ravel().tolist()}
        lines = []
        for day, recording in enumerate(sorted(os.listdir(synth))):
            folder = f"day{day + 1:02d}"
            os.makedirs(os.path.join(root, folder))
            face = json.load(open(os.path.join(synth, recording, "appleFace.json")))
            left = json.load(open(os.path.join(synth, recording, "appleLeftEye.json")))
            right = json.load(open(os.path.join(synth, recording, "appleRightEye.json")))
            frames = json.load(open(os.path.join(synth, recording, "frames.json")))
            for i, name in enumerate(frames):
                image = f"{folder}/{i + 1:04d}.jpg"
                shutil.copy(os.path.join(synth, recording, "frames", name), os.path.join(root, image))
                target_px = [float(rng.integers(0, p["px"][0])), float(rng.integers(0, p["px"][1]))]
                s = np.array([target_px[0] * p["mm"][0] / p["px"][0], target_px[1] * p["mm"][1] / p["px"][1], 0.0])
                gt = R @ s + T
                fc = np.array([rng.uniform(-40, 40), rng.uniform(-60, 20), rng.uniform(480, 700)])
                fx, fy, fw, fh = face["X"][i], face["Y"][i], face["W"][i], face["H"][i]

                def corners(box):  # an eye box (relative to the face box) -> its outer and inner corners
                    x, y, w, h = fx + box["X"][i], fy + box["Y"][i], box["W"][i], box["H"][i]
                    return [x + 0.15 * w, y + h / 2, x + 0.85 * w, y + h / 2]

                # Six landmarks: the image-left eye's two corners, the image-right eye's, the mouth's two.
                landmarks = corners(right) + corners(left) + [fx + 0.35 * fw, fy + 0.8 * fh, fx + 0.65 * fw, fy + 0.8 * fh]
                pose = list(rng.normal(0, 0.1, 3)) + list(fc + rng.normal(0, 5, 3))
                eye = "left" if i % 2 == 0 else "right"
                fields = [image] + [f"{v:.0f}" for v in target_px] + [f"{v:.3f}" for v in landmarks] \
                    + [f"{v:.6f}" for v in pose] + [f"{v:.6f}" for v in fc] + [f"{v:.6f}" for v in gt] + [eye]
                lines.append(" ".join(fields))
                fc_w, gt_w = [float(f"{v:.6f}") for v in fc], [float(f"{v:.6f}") for v in gt]
                expected["frames"][f"{person}/{image}"] = {"label_cm": label_cm(R, T, gt_w), "fc_mm": fc_w, "gt_mm": gt_w,
                                                           "target_px": target_px}
        with open(os.path.join(root, f"{person}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        shutil.rmtree(synth)
    os.makedirs(os.path.join(HERE, "mat"), exist_ok=True)
    scipy.io.savemat(os.path.join(HERE, "mat", "cell.mat"), {"names": np.array(["a", "bc"], dtype=object)})
    with open(os.path.join(HERE, "mpiifacegaze.expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/foveal")
