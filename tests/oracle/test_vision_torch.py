"""`lumen classify` against torchvision's own models (vision_models.py).

For each family, a small random-weight torchvision model (random batch-norm statistics, so the
fold into the convolutions is exercised) is exported to lumen's folder format; two random
images of the model's exact size (one PNG, one PPM) are classified in one call with
--no-resize, and lumen's logits (--logits-out) must agree with torchvision's float64 forward on
the same normalised pixels within 1e-4 relative max error (max|lumen - ref| / max|ref|: lumen
computes in float32, whose rounding over a few thousand-term sums stays near 1e-6; 1e-4 leaves
room for deep stacks without hiding a wrong operation, which shows as 1e-2 or worse), with the
same top-1 class; the two images' reference logits must differ by over 1e-2 (a model whose
output ignores its input would make the comparison vacuous). Logits are identical on 1 and 2
threads. Images of other sizes (shrunk and
enlarged, landscape and portrait) are resized and cropped: held to torchvision's PIL
Resize + CenterCrop within the same 1e-4 (lumen's resampler reproduces PIL's bilinear pixel for
pixel).
"""
import os
import sys

import numpy as np

import oracle_args
from oracle_checks import Checks, rel_err, run
import vision_models as vm

TOLERANCE = 1e-4

VIT = {"patch_size": 8, "num_layers": 2, "num_heads": 3, "hidden_dim": 48, "mlp_dim": 96}
CASES = [
    # name, architecture, torchvision options, image size, classes, extra config
    ("resnet18", "resnet18", {}, 64, 10, {}),
    ("resnet50", "resnet50", {}, 32, 10, {}),
    ("mobilenet_v2", "mobilenet_v2", {"width_mult": 0.5}, 64, 10, {"width_mult": 0.5}),
    # 0.75: widths where rounding down to a multiple of 8 would lose >10 % (24 * 0.75 -> 24, not 16)
    ("googlenet", "googlenet", {}, 64, 10, {}),
    # the input re-normalised to [-1, 1] as for torchvision's weights ported from TensorFlow
    ("googlenet-transform", "googlenet", {"transform_input": True}, 32, 10, {"transform_input": True}),
    ("vit", "vit", {"image_size": 32, **VIT}, 32, 10, VIT),
    ("mobilenet_v2-0.75", "mobilenet_v2", {"width_mult": 0.75}, 32, 7, {"width_mult": 0.75}),
]




def main():
    a = oracle_args.parse(__doc__)
    check = Checks()

    for i, (name, arch, options, size, classes, extra) in enumerate(CASES):
        model = vm.build(arch, 100 + i, classes, **options)
        config = {"architecture": arch, "num_classes": classes, "image_size": size,
                  "mean": vm.IMAGENET_MEAN, "std": vm.IMAGENET_STD, **extra}
        folder = os.path.join(a.work, f"vision-{name}")
        vm.export(folder, model, config)
        images = [vm.random_image(200 + i, size, size), vm.random_image(300 + i, size, size)]
        paths = [os.path.join(folder, "image0.png"), os.path.join(folder, "image1.ppm")]
        vm.write_png(paths[0], images[0])
        vm.write_ppm(paths[1], images[1])
        ref = np.stack([vm.reference_logits(model, img, vm.IMAGENET_MEAN, vm.IMAGENET_STD) for img in images])
        outs = {}
        for threads in (1, 2):
            out = os.path.join(a.work, f"vision-{name}-t{threads}.npy")
            run([a.lumen, "classify", "-m", folder, "-i", paths[0], "-i", paths[1], "--no-resize", "-t", str(threads),
                 "--logits-out", out])
            outs[threads] = np.load(out)
        ours = outs[2]
        err = rel_err(ours, ref)
        check(name, err <= TOLERANCE, f"{size}x{size}, 2 images (PNG, PPM): relative max error {err:.2e}")
        top = list(ours.argmax(axis=1)), list(ref.argmax(axis=1))
        check(name, top[0] == top[1], f"top-1 {top[0]} (torchvision {top[1]})")
        check(name, np.array_equal(outs[1], outs[2]), "logits identical on 1 and 2 threads")
        # A model whose logits ignore the image would pass the comparison whatever lumen did to it.
        spread = rel_err(ref[0], ref[1])
        check(name, spread > 1e-2, f"the two images' logits differ by {spread:.2e} of their scale")

    # Resize + centre crop: images of other sizes against torchvision's PIL path, same tolerance
    # (lumen's resampler is PIL's bilinear pixel for pixel).
    name, arch, options, size, classes, _ = CASES[0]
    model = vm.build(arch, 100, classes, **options)
    folder = os.path.join(a.work, f"vision-{name}")
    for h, w in ((80, 100), (150, 97), (40, 52)):
        pixels = vm.random_image(h * w, h, w)
        path = os.path.join(a.work, f"vision-resize-{h}x{w}.png")
        vm.write_png(path, pixels)
        out = path.replace(".png", ".npy")
        run([a.lumen, "classify", "-m", folder, "-i", path, "--logits-out", out])
        ref = vm.reference_logits(model, vm.pil_eval_transform(pixels, size), vm.IMAGENET_MEAN, vm.IMAGENET_STD)
        err = rel_err(np.load(out)[0], ref)
        check("resize", err <= TOLERANCE, f"{w}x{h} -> Resize({size}) + CenterCrop({size}): relative max error {err:.2e}")

    return check.status()


if __name__ == "__main__":
    sys.exit(main())
