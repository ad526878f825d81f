"""Net2WiderNet (Chen et al., 2016) for the task network: a weight file's AlexNet with every width
doubled (features and hidden), computing the same function, so that fine-tuning a wider model
starts at the narrow one's error. Each unit is copied once; the weights reading a copied unit are
halved (ReLU and max pooling commute with the copy). The copies get noise of 0.1% of the mean
absolute weight to break their symmetry; dropout breaks it further in training. The saliency
network, the presence head (its inputs halved too) and the face-in-view head carry over.

Usage: python experiments/widen.py IN.safetensors OUT.safetensors   (numpy and safetensors)
Then: foveal train --config WIDE.json --init-from OUT.safetensors ..., with WIDE.json the
configuration printed here.
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

CONVS = ["task.features.0", "task.features.3", "task.features.6", "task.features.8", "task.features.10"]


def main(source, target):
    t = load_file(source)
    with safe_open(source, "np") as f:
        config = json.loads(f.metadata()["config"])
    rng = np.random.default_rng(0)

    def noisy(a):
        return a + rng.normal(0, 1e-3, a.shape) * np.abs(a).mean()

    def copy_outputs(w):
        return np.concatenate([w, w], 0)

    def copy_inputs(w, axis=1):
        return np.concatenate([w, w], axis) / 2

    for i, name in enumerate(CONVS):
        w = t[name + ".weight"] if i == 0 else copy_inputs(t[name + ".weight"])
        t[name + ".weight"] = noisy(copy_outputs(w))
        t[name + ".bias"] = copy_outputs(t[name + ".bias"])
    # The first FC layer reads the last map flattened channel by channel, 6x6 each.
    w = t["task.classifier.1.weight"]
    hidden, columns = w.shape
    w = copy_inputs(w.reshape(hidden, columns // 36, 36)).reshape(hidden, 2 * columns)
    t["task.classifier.1.weight"] = noisy(copy_outputs(w))
    t["task.classifier.1.bias"] = copy_outputs(t["task.classifier.1.bias"])
    t["task.classifier.4.weight"] = noisy(copy_outputs(copy_inputs(t["task.classifier.4.weight"])))
    t["task.classifier.4.bias"] = copy_outputs(t["task.classifier.4.bias"])
    t["task.classifier.6.weight"] = copy_inputs(t["task.classifier.6.weight"])
    if "presence.weight" in t:
        t["presence.weight"] = copy_inputs(t["presence.weight"])
    config["alex_widths"] = [2 * width for width in config["alex_widths"]]
    config["hidden"] *= 2
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in t.items()}, target,
              metadata={"config": json.dumps(config)})
    print(json.dumps(config))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
