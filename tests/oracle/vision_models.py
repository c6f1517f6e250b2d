"""Random-weight torchvision classifiers exported to lumen's image-classifier folder
(docs/FORMATS.md): config.json + model.safetensors holding the model's own state dict.

torchvision builds the models (its own code is the reference); every batch norm gets random
running statistics and affine parameters, since fresh ones (mean 0, variance 1, gamma 1, beta 0)
would make the fold of batch norm into the convolutions an identity that tests nothing, and
every convolution and linear layer is He-initialised (kaiming_init says why).
"""
import json
import os

import numpy as np
import torch
import torchvision

from hf_families import write_safetensors

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def randomize_batch_norms(model, gen):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def kaiming_init(model, gen):
    """He initialisation (std sqrt(2 / fan_in)) of every convolution and linear layer. The
    models' own inits are made for training, not for a test: GoogLeNet's (std 0.01) and
    MobileNetV2's (depthwise fan counted over all channels) shrink activations layer by layer
    until the logits are the biases' alone, the same for every image; ViT zeroes its head."""
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = m.weight[0].numel()
            m.weight.data.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)


def build(architecture, seed, num_classes, **options):
    """A torchvision model in eval mode, with random weights and batch-norm statistics."""
    torch.manual_seed(seed)
    if architecture == "vit":
        model = torchvision.models.VisionTransformer(num_classes=num_classes, **options)
    elif architecture == "googlenet":
        model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True,
                                             num_classes=num_classes, **options)
    else:
        model = getattr(torchvision.models, architecture)(weights=None, num_classes=num_classes, **options)
    with torch.no_grad():
        kaiming_init(model, torch.Generator().manual_seed(seed + 2))
        if architecture == "vit":  # torchvision starts the class token at zero
            model.class_token.copy_(torch.randn(model.class_token.shape, generator=torch.Generator().manual_seed(seed + 3)))
        randomize_batch_norms(model, torch.Generator().manual_seed(seed + 1))
    return model.eval()


def export(directory, model, config):
    """Writes config.json and the state dict (batch norms' num_batches_tracked counters are
    training bookkeeping, left out) as float32 safetensors."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    sd = {k: v.detach().float() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    write_safetensors(os.path.join(directory, "model.safetensors"), sd, {"format": "pt"})
    return sd


def random_image(seed, height, width):
    """uint8 RGB pixels, height x width x 3."""
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def write_ppm(path, pixels):
    h, w, _ = pixels.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(pixels.tobytes())


def write_png(path, pixels):
    from PIL import Image
    Image.fromarray(pixels, "RGB").save(path)


def pil_eval_transform(pixels, size):
    """torchvision's evaluation preprocessing of a PIL image, Resize(size) + CenterCrop(size),
    as uint8 pixels."""
    from PIL import Image
    from torchvision import transforms
    image = transforms.CenterCrop(size)(transforms.Resize(size)(Image.fromarray(pixels, "RGB")))
    return np.array(image)


def reference_logits(model, pixels, mean, std):
    """torchvision's forward, in float64, on the image scaled to [0, 1] and normalised per
    channel (what transforms.ToTensor + Normalize give)."""
    x = torch.from_numpy(pixels).double().permute(2, 0, 1).unsqueeze(0) / 255.0
    x = (x - torch.tensor(mean, dtype=torch.float64).view(1, 3, 1, 1)) / torch.tensor(std, dtype=torch.float64).view(1, 3, 1, 1)
    with torch.no_grad():
        return model.double()(x)[0].numpy()
