"""Streamed image data sets: decode-and-crop against a plain decode, the folder / ArrayRecord / TFDS
sources, index-level long tail and re-sampling, Grain workers giving the main thread's batches, bad
files, and training runs that read images per batch."""

import dataclasses
import io
import json
import math
import subprocess
import sys

import chex
import numpy as np
import pytest
from PIL import Image

from jaxtricks.data import ArrayRecordImages, ImageDataset, ImageFolder, TfdsImages, TrainBatches
from jaxtricks.data.build import build_datasets
from jaxtricks.data.digit_folder import write_digit_folder
from jaxtricks.data.images import (BadImageError, center_crop_box, decode_crop,
                                   random_resized_crop_box)
from jaxtricks.data.streaming import write_array_record
from jaxtricks.training import fit
from jaxtricks.training.config import base_config, set_task
from jaxtricks.transfer import load_variables
from tests.conftest import REPO


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  """3 classes × (8 train, 2 test) digits of 24–64 px, JPEG and PNG."""
  return write_digit_folder(tmp_path_factory.mktemp("digits"), per_class={"train": 8, "test": 2},
                            classes=3, sizes=(24, 64))


def _encoded(width, height, fmt="JPEG", seed=0, feature=16):
  """An encoded image of random colours smoothly varying over ``feature`` pixels, and its pixels."""
  rng = np.random.default_rng(seed)
  coarse = rng.integers(0, 256, (height // feature + 1, width // feature + 1, 3), dtype=np.uint8)
  smooth = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
  buffer = io.BytesIO()
  smooth.save(buffer, fmt, quality=95)
  return buffer.getvalue(), np.asarray(smooth)


def test_random_resized_crop_box_keeps_area_and_ratio_within_range():
  rng = np.random.default_rng(0)
  boxes = np.array([random_resized_crop_box(rng, 400, 300) for _ in range(2000)])
  area = boxes[:, 2] * boxes[:, 3] / (400 * 300)
  ratio = boxes[:, 2] / boxes[:, 3]
  assert area.min() >= 0.075 and area.max() <= 1.0
  # Area fraction U(0.08, 1): below 0.5625 every ratio in range fits, so the accepted draws stay uniform.
  low, high = np.sum((area >= 0.08) & (area < 0.32)), np.sum((area >= 0.3225) & (area < 0.5625))
  assert abs(low - high) < 0.12 * low
  assert ratio.min() >= 0.74 and ratio.max() <= 1.34
  assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 400).all()
  assert (boxes[:, 1] >= 0).all() and (boxes[:, 1] + boxes[:, 3] <= 300).all()
  # A strip no crop of the ratio range fits in falls back to the centre crop of the clamped ratio.
  assert random_resized_crop_box(rng, 1000, 10, scale=(0.9, 1.0)) == (
      (1000 - round(10 * 4 / 3)) / 2, 0.0, round(10 * 4 / 3), 10)


def test_evaluation_crop_is_resize_shorter_side_then_centre_crop():
  encoded, pixels = _encoded(320, 240, "PNG")
  assert center_crop_box(320, 240, size=224, resize=256) == (55.0, 15.0, 210.0, 210.0)
  out = decode_crop(encoded, size=224, resize=256)
  resized = Image.fromarray(pixels).resize((341, 256), Image.Resampling.BILINEAR)  # Shorter side 256.
  reference = np.asarray(resized)[16:240, 58:282]
  assert out.shape == (224, 224, 3) and out.dtype == np.uint8
  assert np.abs(out.astype(float) - reference).mean() < 4.0  # Resampled on slightly different grids.


def test_jpeg_is_decoded_at_the_smallest_scale_the_crop_allows(monkeypatch):
  import cv2
  encoded, pixels = _encoded(1600, 1200, feature=128)  # Features that survive the 17x shrink.
  shapes = []
  imdecode = cv2.imdecode
  monkeypatch.setattr(cv2, "imdecode", lambda *a: shapes.append(imdecode(*a).shape) or imdecode(*a))
  out = decode_crop(encoded, size=64, resize=72)  # The centre 1067 px → 64: 1/8 scale suffices.
  assert shapes == [(150, 200, 3)]
  side = 1200 * 64 / 72
  left, top = (1600 - side) / 2, (1200 - side) / 2
  full = Image.fromarray(pixels).resize((64, 64), Image.Resampling.BILINEAR,
                                        box=(left, top, left + side, top + side))
  assert np.abs(out.astype(float) - np.asarray(full)).mean() < 5.0  # PIL's triangle filter vs area.


def test_random_crop_is_a_pure_function_of_its_seed_and_flips_half_the_time():
  encoded, _ = _encoded(100, 80, "PNG")
  a = decode_crop(encoded, size=32, rng=np.random.default_rng([1, 2, 3]))
  b = decode_crop(encoded, size=32, rng=np.random.default_rng([1, 2, 3]))
  np.testing.assert_array_equal(a, b)
  flips = [np.random.default_rng(s) for s in range(400)]
  unflipped = [decode_crop(encoded, size=16, rng=r, flip=False) for r in
               [np.random.default_rng(s) for s in range(400)]]
  flipped = [decode_crop(encoded, size=16, rng=r) for r in flips]
  share = np.mean([not np.array_equal(u, f) for u, f in zip(unflipped, flipped)])
  assert 0.4 < share < 0.6


def test_image_folder_sorts_classes_and_maps_another_split_by_name(tmp_path, folder):
  train = ImageFolder(folder / "train")
  assert train.classes == ("digit_0", "digit_1", "digit_2")
  np.testing.assert_array_equal(train.labels, np.repeat([0, 1, 2], 8))
  assert {p.rsplit(".", 1)[1] for p in train.paths} == {"jpg", "png"}
  (tmp_path / "test" / "digit_2").mkdir(parents=True)
  (tmp_path / "test" / "digit_2" / "a.png").write_bytes((folder / "test" / "digit_2").iterdir().__next__()
                                                         .read_bytes())
  (tmp_path / "test" / "digit_2" / "notes.txt").write_text("not an image")
  test = ImageFolder(tmp_path / "test", train.classes)
  assert len(test) == 1 and test.labels.tolist() == [2]
  (tmp_path / "test" / "cat").mkdir()
  (tmp_path / "test" / "cat" / "b.png").write_bytes(b"")
  with pytest.raises(ValueError, match=r"classes \['cat'\] that the training split does not have"):
    ImageFolder(tmp_path / "test", train.classes)
  with pytest.raises(ValueError, match="is not a directory"):
    ImageFolder(tmp_path / "missing")


def test_prepare_writes_array_record_shards_that_read_back_as_the_folder(tmp_path, folder):
  done = subprocess.run([sys.executable, "-m", "jaxtricks.data.prepare", f"--from={folder / 'train'}",
                         f"--to={tmp_path / 'train'}", "--shards=3"], cwd=REPO, capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 0, done.stderr[-2000:]
  assert "24/24" in done.stderr  # The progress bar.
  records, files = ArrayRecordImages(tmp_path / "train"), ImageFolder(folder / "train")
  assert len(list((tmp_path / "train").glob("*.array_record"))) == 3
  assert records.classes == files.classes
  np.testing.assert_array_equal(records.labels, files.labels)
  assert all(records.read(i) == files.read(i) for i in range(len(files)))
  assert records.name(5).startswith("digit_0/")
  missing = subprocess.run([sys.executable, "-m", "jaxtricks.data.prepare", f"--from={folder}/nope",
                            f"--to={tmp_path}/x"], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert missing.returncode == 1 and "is not a directory" in missing.stderr


def _streamed_config(source, path, **dataset):
  c = base_config()
  c.dataset.update(source=source, path=str(path), image_size=16, eval_resize=20, workers=0, **dataset)
  return c.dataset


def test_folder_and_array_record_give_the_same_batches_and_long_tail_is_index_level(tmp_path, folder):
  for split in ("train", "test"):
    write_array_record(folder / split, tmp_path / split, progress=False)
  from_files = build_datasets(_streamed_config("folder", folder, imbalance_factor=4.0))
  from_records = build_datasets(_streamed_config("array_record", tmp_path, imbalance_factor=4.0))
  for a, b in zip(from_files, from_records):
    assert isinstance(a, ImageDataset) and a.num_classes == 3
    np.testing.assert_array_equal(a.labels, b.labels)
  assert from_files[0].class_counts().tolist() == [8, 4, 2]
  assert from_files[1].class_counts().tolist() == [2, 2, 2]
  batches = [TrainBatches(d[0], 6, seed=1, resample="oversample") for d in (from_files, from_records)]
  for step in (0, 3):
    x, y = batches[0].batch(step), batches[1].batch(step)
    assert x["image"].dtype == np.uint8 and x["image"].shape == (6, 16, 16, 3)
    np.testing.assert_array_equal(x["image"], y["image"])
    np.testing.assert_array_equal(x["label"], y["label"])
  with pytest.raises(ValueError, match="smote.*streamed images"):
    TrainBatches(from_files[0], 6, seed=1, resample="smote")


def test_hosts_read_only_their_slice_and_crops_do_not_depend_on_the_host_count(folder):
  reads = {}

  class Counted(ImageFolder):
    def read(self, index):
      reads.setdefault(self.host, []).append(index)
      return super().read(index)

  def host(name, p, count):
    source = Counted(folder / "train")
    source.host = name
    return TrainBatches(ImageDataset(source, 3, image_size=16, eval_resize=20), 8, seed=3,
                        process_index=p, process_count=count)

  one = host("all", 0, 1).batch(2)
  halves = [host(p, p, 2).batch(2) for p in (0, 1)]
  for key in ("image", "label"):
    np.testing.assert_array_equal(np.concatenate([h[key] for h in halves]), one[key])
  assert len(reads[0]) == len(reads[1]) == 4 and not set(reads[0]) & set(reads[1])
  assert sorted(reads[0] + reads[1]) == sorted(reads["all"])


def test_an_epoch_reads_each_example_once_and_draws_its_crop_again_every_epoch(folder):
  """The epoch is a permutation (no example twice, none left out: 24 examples, 3 batches of 8), and an
  example's random-resized crop and flip are keyed by the step, so they change from one epoch to the
  next; a second stream of the same seed (a resumed run) gives the same crops again."""
  reads = []

  class Counted(ImageFolder):
    def read(self, index):
      reads.append(index)
      return super().read(index)

  dataset = ImageDataset(Counted(folder / "train"), 3, image_size=16, eval_resize=20)
  batches = TrainBatches(dataset, 8, seed=0)
  n = batches.steps_per_epoch
  crops = []
  for epoch in range(2):
    start = len(reads)
    images = np.concatenate([batches.batch(epoch * n + s)["image"] for s in range(n)])
    seen = reads[start:]
    assert sorted(seen) == list(range(24))
    crops.append(dict(zip(seen, images)))
  assert not any(np.array_equal(crops[0][i], crops[1][i]) for i in range(24))
  again = TrainBatches(dataset, 8, seed=0).batch(n)["image"]
  np.testing.assert_array_equal(again, np.stack([crops[1][i] for i in reads[-8:]]))


def test_grain_threads_and_worker_processes_give_the_batches_of_the_main_thread(folder):
  dataset = ImageDataset(ImageFolder(folder / "train"), 3, image_size=16, eval_resize=20)
  here, *ahead = (list(TrainBatches(dataclasses.replace(dataset, workers=w, threads=t), 8,
                                    seed=0).iterate(1, 5)) for w, t in ((0, 0), (0, 2), (2, 2)))
  for batches in ahead:
    assert len(batches) == 4
    for a, b in zip(here, batches):
      np.testing.assert_array_equal(a["image"], b["image"])
      np.testing.assert_array_equal(a["label"], b["label"])


def _corrupt_folder(tmp_path, folder):
  import shutil
  shutil.copytree(folder, tmp_path / "data")
  bad = tmp_path / "data" / "train" / "digit_1" / "train_00002.jpg"
  bad.write_bytes(bad.read_bytes()[:200])  # Cut short: the header reads, the pixels do not.
  return tmp_path / "data", bad


def _small_run(path, **dataset):
  c = base_config()
  c.dataset.update(source="folder", path=str(path), image_size=16, eval_resize=20, workers=0, **dataset)
  c.model.name = "cnn"
  c.model.cnn.width = 8
  c.train.update(batch_size=8, num_epochs=2)
  c.update(eval_batch_size=8, eval_every_epochs=1, log_every_steps=1, progress=False)
  c.optim.update(name="adamw", lr=1e-3, schedule="constant")
  return c


def test_a_corrupt_file_stops_the_run_naming_it_or_is_skipped_and_reported(tmp_path, folder):
  data, bad = _corrupt_folder(tmp_path, folder)
  with pytest.raises(BadImageError, match=rf"cannot decode image {bad}.*dataset.skip_bad_files=True"):
    fit(_small_run(data), tmp_path / "stopped")
  final, _ = fit(_small_run(data, skip_bad_files=True), tmp_path / "skipped")
  assert final["step"] == 6
  (log,) = (tmp_path / "skipped" / "skipped_files").iterdir()  # One list per host and process.
  assert log.read_text().split() == [str(bad)] * 2  # 2 epochs.
  records = [json.loads(line) for line in (tmp_path / "skipped" / "metrics.jsonl").read_text().split("\n")
             if line]
  assert records[-2]["train/skipped_files"] == 1


def test_a_tfds_array_record_build_trains_without_reading_the_split_and_tfrecord_is_named(
    tmp_path, folder, monkeypatch):
  import tensorflow_datasets as tfds

  files = sorted((folder / "train").glob("*/*.jpg"))

  class DigitJpegs(tfds.core.GeneratorBasedBuilder):
    __module__ = "digit_jpegs"  # Not inside a package: TFDS would look for its code's resources.
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
          "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
          "label": tfds.features.ClassLabel(names=["digit_0", "digit_1", "digit_2"])}))

    def _split_generators(self, dl_manager):
      return {"train": self._generate_examples(files), "test": self._generate_examples(files[::2])}

    def _generate_examples(self, paths):
      for i, path in enumerate(paths):
        yield i, {"image": str(path), "label": int(path.parent.name[-1])}

  DigitJpegs(data_dir=tmp_path / "tfds", file_format="array_record").download_and_prepare()
  reads = []
  read = TfdsImages.read
  monkeypatch.setattr(TfdsImages, "read", lambda self, i: reads.append(i) or read(self, i))
  c = _small_run("")
  c.dataset.update(source="tfds", tfds_name="digit_jpegs", data_dir=str(tmp_path / "tfds"), streaming=True)
  final, _ = fit(c, tmp_path / "tfds_run")
  n_train = len(files)
  steps = final["step"]
  assert steps == 2 * (n_train // 8)
  evaluations = 2 * math.ceil(len(files[::2]) / 8) * 8
  assert len(reads) == 1 + steps * 8 + evaluations  # One image to initialise, then batches only.

  class NoRecords:  # A later start: the labels come from the file kept beside the build.
    def __getitem__(self, index):
      raise AssertionError(f"record {index} was read for its label")

  for split, paths in (("train", files), ("test", files[::2])):
    again = TfdsImages("digit_jpegs", split=split, data_dir=str(tmp_path / "tfds"))
    assert again.labels_file.startswith(str(tmp_path / "tfds" / "digit_jpegs" / "1.0.0"))
    expected = again._read_labels()
    np.testing.assert_array_equal(np.bincount(expected, minlength=3),
                                  np.bincount([int(p.parent.name[-1]) for p in paths], minlength=3))
    again.__dict__["_source"] = NoRecords()
    np.testing.assert_array_equal(again.labels, expected)

  info = tmp_path / "tfds" / "digit_jpegs" / "1.0.0" / "dataset_info.json"
  info.write_text(info.read_text().replace('"array_record"', '"tfrecord"'))
  with pytest.raises(ValueError, match=r"stored as tfrecord; .*`tfds build digit_jpegs "
                                       r"--file_format=array_record`"):
    fit(c, tmp_path / "tfrecord_run")


def test_a_streamed_run_killed_mid_epoch_resumes_with_the_batches_of_an_uninterrupted_one(
    tmp_path, folder):
  from tests.data.streaming_worker import config, record_batches

  originals = record_batches(tmp_path / "uninterrupted.jsonl")
  try:
    fit(config(folder), tmp_path / "uninterrupted")
  finally:
    TrainBatches.batch, ImageFolder.read = originals
  run = tmp_path / "run"
  worker = [sys.executable, "-m", "tests.data.streaming_worker", str(folder), str(run),
            str(tmp_path / "killed.jsonl")]
  killed = subprocess.run(worker + ["4"], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert killed.returncode == -9, killed.stderr[-3000:]  # Step 4 of 6: in the middle of epoch 2.
  resumed = subprocess.run(worker, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  read = lambda name: [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]  # noqa: E731
  assert [s for s, _ in read("killed.jsonl")] == [0, 1, 2, 3, 4, 5]  # 0–3 before the kill, 4–5 after.
  assert read("killed.jsonl") == read("uninterrupted.jsonl")
  chex.assert_trees_all_equal(load_variables(run), load_variables(tmp_path / "uninterrupted"))


def _shuffled_labels(root, out, seed=0):
  """A copy of the image folder ``root`` with every training image under a random class."""
  import shutil
  shutil.copytree(root / "test", out / "test")
  rng = np.random.default_rng(seed)
  classes = sorted(p.name for p in (root / "train").iterdir())
  for i, path in enumerate(sorted((root / "train").glob("*/*"))):
    target = out / "train" / classes[rng.integers(len(classes))]
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, target / f"{i}{path.suffix}")
  return out


def learning_run(data, workdir, seed=0):
  """12 s on 2 cores: a 16-px SmallCNN on 4 grey digit classes × 30 streamed training images."""
  c = _small_run(data)
  c.seed = seed
  c.model.cnn.width = 16
  c.optim.lr = 3e-3
  c.train.update(batch_size=24, num_epochs=20)
  c.update(eval_every_epochs=20, log_every_steps=10)
  c.dataset.crop_scale = (0.5, 1.0)  # Most of the digit stays in the 16-px crop.
  return fit(c, workdir)[0]["eval/accuracy"]


def test_a_streamed_folder_trains_a_classifier_that_beats_shuffled_labels(tmp_path):
  data = write_digit_folder(tmp_path / "digits", per_class={"train": 30, "test": 10}, classes=4,
                            sizes=(24, 64), seed=1, colours=False)
  accuracy = learning_run(data, tmp_path / "run")
  control = learning_run(_shuffled_labels(data, tmp_path / "shuffled"), tmp_path / "control")
  # Seeds 0, 1, 2: 0.675, 0.600, 0.675 against 0.250, 0.225, 0.250 (chance 0.25).
  assert accuracy >= control + 0.25, (accuracy, control)


@pytest.mark.parametrize("update, match", [
    (dict(source="folder", path=""), r"dataset.source='folder' needs dataset.path"),
    (dict(source="array_record"), r"holds no jaxtricks_images.json; write it with python -m "
                                  r"jaxtricks.data.prepare"),
    (dict(source="folder", workers=-1), r"dataset.workers must be >= 0, got -1"),
    (dict(source="folder", image_size=300), r"dataset.image_size=300 must be in \(0, "
                                            r"dataset.eval_resize=256\]"),
    (dict(source="folder", resample="smote"), r"smote.*streamed images take none, oversample"),
])
def test_bad_streaming_settings_are_named(folder, update, match):
  c = base_config()
  c.dataset.update(**{"path": str(folder), **update})
  with pytest.raises(ValueError, match=match):
    train, _ = build_datasets(c.dataset)
    TrainBatches(train, 8, seed=0, resample=c.dataset.resample)


def test_streamed_images_need_the_classification_task(folder, tmp_path):
  c = set_task(_small_run(folder), "open_set")
  with pytest.raises(ValueError, match=r"streams images; task='open_set' needs an in-memory data set"):
    fit(c, tmp_path)
  c = _small_run(folder)
  c.eval_pgd.epsilon = 0.1
  with pytest.raises(ValueError, match=r"eval_pgd.epsilon needs images in memory"):
    fit(c, tmp_path)
