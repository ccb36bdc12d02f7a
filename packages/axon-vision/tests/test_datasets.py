"""Datasets: tiny files written here in the real formats (idx, gzipped idx, CIFAR binary records, a PNG
class tree) read back and compared with the arrays written; missing and malformed files name themselves."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from axon_data import DataLoader
from axon_vision import DatasetFormatError
from axon_vision.datasets import CIFAR10, CIFAR100, MNIST, FashionMNIST, ImageFolder, read_idx

RNG = np.random.default_rng(6)


def write_idx(path, array, code=0x08, compress=False):
    payload = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)


def test_idx_types_and_byte_order(tmp_path):
    values = RNG.standard_normal((3, 4)).astype(">f4")
    write_idx(tmp_path / "a", values, code=0x0D)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), values.astype(np.float32))
    ints = RNG.integers(-1000, 1000, (5,)).astype(">i4")
    write_idx(tmp_path / "b", ints, code=0x0C, compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "b.gz"), ints.astype(np.int32))
    (tmp_path / "c").write_bytes(b"\x00\x00\x08\x02" + struct.pack(">2i", 3, 3) + b"\x00" * 8)
    with pytest.raises(DatasetFormatError, match="needs 21"):
        read_idx(tmp_path / "c")
    (tmp_path / "d").write_bytes(b"PK\x03\x04")
    with pytest.raises(DatasetFormatError, match="not an idx file"):
        read_idx(tmp_path / "d")


@pytest.mark.parametrize("cls,compress", [(MNIST, False), (FashionMNIST, True)])
def test_mnist_layouts(tmp_path, cls, compress):
    raw = tmp_path / cls.__name__ / "raw"
    raw.mkdir(parents=True)
    images = RNG.integers(0, 256, (7, 28, 28), np.uint8)
    labels = RNG.integers(0, 10, 7).astype(np.uint8)
    write_idx(raw / "t10k-images-idx3-ubyte", images, compress=compress)
    write_idx(raw / "t10k-labels-idx1-ubyte", labels, compress=compress)
    ds = cls(tmp_path, train=False, transform=lambda x: x.astype(np.float32) / 255)
    assert len(ds) == 7 and len(cls.classes) == 10
    image, label = ds[3]
    np.testing.assert_array_equal(image, images[3][None] / np.float32(255))
    assert label == labels[3]
    batch_images, batch_labels = next(iter(DataLoader(ds, batch_size=4)))
    np.testing.assert_array_equal(batch_labels.numpy(), labels[:4])
    assert tuple(batch_images.shape) == (4, 1, 28, 28)
    with pytest.raises(DatasetFormatError, match="train-images-idx3-ubyte"):
        cls(tmp_path, train=True)


def test_mnist_label_count_mismatch_names_files(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", RNG.integers(0, 256, (4, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DatasetFormatError, match="train-labels-idx1-ubyte"):
        MNIST(tmp_path)


def test_cifar10_and_cifar100_binary(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    images = RNG.integers(0, 256, (10, 3, 32, 32), np.uint8)
    labels = RNG.integers(0, 10, 10).astype(np.uint8)
    for i in range(5):
        part = slice(2 * i, 2 * i + 2)
        records = np.concatenate([labels[part, None], images[part].reshape(2, -1)], axis=1)
        (folder / f"data_batch_{i + 1}.bin").write_bytes(records.tobytes())
    ds = CIFAR10(tmp_path)
    assert len(ds) == 10
    for i in (0, 7, 9):
        image, label = ds[i]
        np.testing.assert_array_equal(image, images[i])
        assert label == labels[i]
    with pytest.raises(DatasetFormatError, match="test_batch.bin"):
        CIFAR10(tmp_path, train=False)
    (folder / "test_batch.bin").write_bytes(b"\x01" * 3000)
    with pytest.raises(DatasetFormatError, match="3073-byte records"):
        CIFAR10(tmp_path, train=False)

    folder100 = tmp_path / "cifar-100-binary"
    folder100.mkdir()
    coarse, fine = RNG.integers(0, 20, 3).astype(np.uint8), RNG.integers(0, 100, 3).astype(np.uint8)
    pixels = RNG.integers(0, 256, (3, 3, 32, 32), np.uint8)
    records = np.concatenate([coarse[:, None], fine[:, None], pixels.reshape(3, -1)], axis=1)
    (folder100 / "test.bin").write_bytes(records.tobytes())
    (folder100 / "fine_label_names.txt").write_text("\n".join(f"class{i}" for i in range(100)) + "\n")
    fine_ds, coarse_ds = CIFAR100(tmp_path, train=False), CIFAR100(tmp_path, train=False, label_type="coarse")
    np.testing.assert_array_equal(fine_ds[2][0], pixels[2])
    assert [fine_ds[i][1] for i in range(3)] == fine.tolist()
    assert [coarse_ds[i][1] for i in range(3)] == coarse.tolist()
    assert fine_ds.classes[5] == "class5" and coarse_ds.classes is None


def test_cifar_pickle_version_is_refused(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DatasetFormatError, match="pickle"):
        CIFAR10(tmp_path)


def test_image_folder(tmp_path):
    written = {}
    for name, count in (("dog", 2), ("cat", 3)):
        (tmp_path / name).mkdir()
        for i in range(count):
            pixels = RNG.integers(0, 256, (5 + i, 4, 3), np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
            written[(name, i)] = pixels
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.targets == [0, 0, 0, 1, 1]
    image, label = ds[4]
    np.testing.assert_array_equal(image, written[("dog", 1)].transpose(2, 0, 1))
    assert label == 1
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG garbage")
    broken = ImageFolder(tmp_path)
    with pytest.raises(DatasetFormatError, match="broken.png"):
        broken[[p.name for p, _ in broken.samples].index("broken.png")]
    with pytest.raises(DatasetFormatError, match="no class sub-folders"):
        ImageFolder(tmp_path / "cat")


def test_coco_detection(tmp_path):
    import json

    from axon_vision.datasets import CocoDetection, boxes_xyxy

    (tmp_path / "images").mkdir()
    pixels = {7: RNG.integers(0, 256, (6, 5, 3), np.uint8), 3: RNG.integers(0, 256, (4, 8, 3), np.uint8)}
    for image_id, array in pixels.items():
        Image.fromarray(array).save(tmp_path / "images" / f"{image_id:012d}.png")
    annotations = [
        {"id": 1, "image_id": 7, "bbox": [1.0, 2.0, 3.0, 2.5], "category_id": 18, "area": 7.5, "iscrowd": 0},
        {"id": 2, "image_id": 3, "bbox": [0.0, 0.0, 4.0, 4.0], "category_id": 1, "area": 16.0, "iscrowd": 0},
        {"id": 3, "image_id": 7, "bbox": [0.5, 0.5, 1.0, 1.0], "category_id": 1, "area": 1.0, "iscrowd": 1},
    ]
    content = {
        "images": [
            {"id": i, "file_name": f"{i:012d}.png", "height": a.shape[0], "width": a.shape[1]}
            for i, a in pixels.items()
        ],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
    }
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(content))
    ds = CocoDetection(tmp_path / "images", ann)
    assert ds.ids == [3, 7] and ds.categories[18] == "dog"
    image, target = ds[1]
    np.testing.assert_array_equal(image, pixels[7].transpose(2, 0, 1))
    assert [a["id"] for a in target] == [1, 3]
    boxes, labels = boxes_xyxy(target)
    np.testing.assert_array_equal(boxes, np.array([[1, 2, 4, 4.5], [0.5, 0.5, 1.5, 1.5]], np.float32))
    assert labels.tolist() == [18, 1]
    (tmp_path / "images" / "000000000003.png").unlink()
    with pytest.raises(DatasetFormatError, match="000000000003.png"):
        ds[0]
    with pytest.raises(DatasetFormatError, match="missing.json"):
        CocoDetection(tmp_path, tmp_path / "missing.json")
    del content["images"]
    ann.write_text(json.dumps(content))
    with pytest.raises(DatasetFormatError, match="instances.json"):
        CocoDetection(tmp_path, ann)
    ann.write_text("{not json")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        CocoDetection(tmp_path, ann)


def test_wider_face(tmp_path):
    from axon_vision.datasets import WIDERFace

    base = tmp_path / "widerface"
    (base / "wider_face_split").mkdir(parents=True)
    for name in ("0--Parade/a.jpg", "1--Handshaking/b.jpg"):
        (base / "WIDER_val" / "images" / name).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (9, 7, 3), np.uint8)).save(base / "WIDER_val/images/0--Parade/a.jpg")
    text = (
        "0--Parade/a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n5 6 7 8 2 1 0 1 2 0\n1--Handshaking/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n"
    )
    (base / "wider_face_split" / "wider_face_val_bbx_gt.txt").write_text(text)
    ds = WIDERFace(tmp_path, "val")
    assert len(ds) == 2
    image, target = ds[0]
    assert image.shape == (3, 9, 7) and image.dtype == np.uint8
    np.testing.assert_array_equal(target["bbox"], [[1, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(target["blur"], [0, 2])
    np.testing.assert_array_equal(target["invalid"], [0, 1])
    np.testing.assert_array_equal(target["occlusion"], [0, 2])
    assert ds.samples[1][1]["bbox"].shape == (0, 4)
    with pytest.raises(DatasetFormatError, match="b.jpg"):
        ds[1]
    with pytest.raises(DatasetFormatError, match="wider_face_train_bbx_gt.txt"):
        WIDERFace(tmp_path, "train")
    (base / "wider_face_split" / "wider_face_val_bbx_gt.txt").write_text("0--Parade/a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n")
    with pytest.raises(DatasetFormatError, match="a.jpg"):
        WIDERFace(tmp_path, "val")
