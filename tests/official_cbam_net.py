"""A ResNet + CBAM with the structure and key names of the official CBAM ImageNet model, written
from the published description (issue 11's facts), to test the converter against: torchvision
names for the backbone, ``cbam.ChannelGate.mlp.{1,3}`` (Flatten, Linear, ReLU, Linear),
``cbam.SpatialGate.spatial.{conv,bn}`` over the ``[max_c, mean_c]`` descriptor, sigmoid gates, one
CBAM per block after the last norm and before the residual addition, and a classifier ``fc``."""
import torch
import torch.nn as nn


class ChannelGate(nn.Module):

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, channels // reduction),
                                 nn.ReLU(), nn.Linear(channels // reduction, channels))

    def forward(self, x):
        avg = x.mean(dim=(2, 3), keepdim=True)
        mx = x.amax(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.mlp(avg) + self.mlp(mx))[:, :, None, None]


class SpatialConv(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 7, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def forward(self, s):
        return self.bn(self.conv(s))


class SpatialGate(nn.Module):

    def __init__(self):
        super().__init__()
        self.spatial = SpatialConv()

    def forward(self, x):
        s = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(s))


class CBAMOfficial(nn.Module):

    def __init__(self, channels):
        super().__init__()
        self.ChannelGate = ChannelGate(channels)
        self.SpatialGate = SpatialGate()

    def forward(self, x):
        return self.SpatialGate(self.ChannelGate(x))


class Block(nn.Module):

    def __init__(self, inplanes, planes, stride, bottleneck):
        super().__init__()
        self.bottleneck = bottleneck
        out = planes * (4 if bottleneck else 1)
        if bottleneck:
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
        else:
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(planes), nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))
        self.cbam = CBAMOfficial(out)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        if self.bottleneck:
            out = torch.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
        else:
            out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(self.cbam(out) + identity)


class OfficialResNetCBAM(nn.Module):
    LAYOUT = {18: (False, (2, 2, 2, 2)), 50: (True, (3, 4, 6, 3))}

    def __init__(self, depth=50, num_classes=1000):
        super().__init__()
        bottleneck, blocks = self.LAYOUT[depth]
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        inplanes = 64
        for i, n in enumerate(blocks):
            planes = 64 * 2**i
            layer = []
            for j in range(n):
                layer.append(Block(inplanes, planes, 2 if (j == 0 and i > 0) else 1, bottleneck))
                inplanes = planes * (4 if bottleneck else 1)
            setattr(self, f'layer{i + 1}', nn.Sequential(*layer))
        self.fc = nn.Linear(inplanes, num_classes)

    def stages(self, x):
        """The outputs of the four stages (what mmdet's ResNet returns)."""
        x = torch.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        outs = []
        for i in range(1, 5):
            x = getattr(self, f'layer{i}')(x)
            outs.append(x)
        return outs


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and random BatchNorm statistics everywhere (scaled to keep activations
    finite through 50 layers)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=g)
                                    * (1.0 / fan_in)**0.5)
            elif isinstance(module, nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=g)
                                    * (1.0 / module.in_features)**0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=g) * 0.1)
            elif isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=g))
                module.bias.copy_(torch.randn(n, generator=g) * 0.1)
                module.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                module.running_var.copy_(0.5 + torch.rand(n, generator=g))
                module.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1, ), generator=g)))
    return model


def save_as_official(model: nn.Module, path, wrap_module: bool = True, nested: bool = True):
    """Save as the official file is saved: ``{'state_dict': ...}`` from ``nn.DataParallel``."""
    sd = {('module.' if wrap_module else '') + k: v for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=sd, epoch=100, arch='resnet', best_prec1=77.622) if nested else sd,
               path)
