"""Classification models; ResNet, VGG, MobileNetV2 and ViT carry torchvision's state-dict names."""

from .mobilenetv2 import InvertedResidual, MobileNetV2, mobilenet_v2
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from .small import MLP, LeNet, SimpleCNN
from .vgg import VGG, make_layers, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from .vit import VisionTransformer, vit_b_16, vit_l_16

__all__ = [
    "MLP",
    "VGG",
    "BasicBlock",
    "Bottleneck",
    "InvertedResidual",
    "LeNet",
    "MobileNetV2",
    "ResNet",
    "SimpleCNN",
    "VisionTransformer",
    "make_layers",
    "mobilenet_v2",
    "resnet18",
    "resnet34",
    "resnet50",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "vit_b_16",
    "vit_l_16",
]
