import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.helpers import photo_crops, save_image
from tfcolor.config import DataConfig
from tfcolor.data import color, demo, images, photo_files, pipelines, places365


def _take(dataset, batches):
    return [tuple(t.numpy() for t in batch) for batch in dataset.take(batches)]


def test_cifar_pipeline_yields_scaled_lab_batches_and_skips_grayscale(cifar_dir):
    pipes = pipelines.make_pipelines(DataConfig(dataset="cifar10", dataset_path=str(cifar_dir)), batch_size=5, seed=1)
    assert pipes.train_examples == 30 and pipes.steps_per_epoch == 6
    l_scaled, ab_scaled = next(iter(pipes.train))
    assert l_scaled.shape == (5, 32, 32, 1) and ab_scaled.shape == (5, 32, 32, 2)
    assert float(tf.reduce_min(l_scaled)) >= -1.0 and float(tf.reduce_max(tf.abs(ab_scaled))) <= 1.0
    validation = list(pipes.validation)
    assert sum(len(batch[0]) for batch in validation) == 4
    _take(pipes.train, 5)  # 25 colour images = one pass over the 30 (5 grayscale)
    assert pipes.stats.as_dict()["grayscale"] >= 5


def test_places365_layout_counts_corrupt_and_grayscale_files(places_dir):
    config = DataConfig(dataset="places365", dataset_path=str(places_dir), image_size=32)
    pipes = pipelines.make_pipelines(config, batch_size=2, seed=3)
    assert pipes.train_examples == 12
    batches = _take(pipes.train, 5)  # the 10 colour images of one epoch
    assert all(b[0].shape == (2, 32, 32, 1) for b in batches)
    running = pipes.stats.as_dict()  # training reads ahead into the next pass: at least one of each
    assert running["corrupt"] >= 1 and running["grayscale"] >= 1
    assert pipes.survey() == {"files": 12, "corrupt": 1, "oversized": 0, "grayscale": 1}  # exactly, over one pass
    assert sum(len(b[0]) for b in pipes.validation) == 4


def test_places365_reads_the_seed_file_list_when_present(places_dir):
    listed = sorted((places_dir / "data_256").rglob("0000000[0-3].jpg"))
    (places_dir / "train.flist").write_text("\n".join(str(p.relative_to(places_dir)) for p in listed) + "\n")
    assert places365.places365_files(places_dir, train=True) == [str(p) for p in listed]


def test_same_seed_same_batches_other_seed_other_order(cifar_dir):
    config = DataConfig(dataset="cifar10", dataset_path=str(cifar_dir))
    first = _take(pipelines.make_pipelines(config, 4, seed=7).train, 2)
    again = _take(pipelines.make_pipelines(config, 4, seed=7).train, 2)
    other = _take(pipelines.make_pipelines(config, 4, seed=8).train, 2)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a[0], b[0])
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other))


def test_random_flip_only_with_augment(tmp_path):
    asymmetric = np.zeros((32, 32, 3), np.uint8)
    asymmetric[:, :8] = (250, 20, 20)
    asymmetric[:, 8:] = (20, 20, 250)
    for index in range(8):
        save_image(tmp_path / f"img{index}.png", asymmetric)

    def left_column_red_share(augment):
        config = DataConfig(dataset="folder", dataset_path=str(tmp_path), image_size=32, augment=augment)
        _, ab = next(iter(pipelines.make_pipelines(config, 4, seed=0, validate=False).train.unbatch().batch(64)))
        return float(np.mean(ab[:, :, 0, 1] > 0.2))  # b* > 0 at the left edge: red, not blue

    assert left_column_red_share(False) == 1.0
    assert 0.0 < left_column_red_share(True) < 1.0


def test_decode_converts_rgba_palette_and_16_bit(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :2, 3] = 255  # left half opaque red, right half transparent -> white
    decoded = images.decode_rgb(tf.io.read_file(str(save_image(tmp_path / "rgba.png", rgba)))).numpy()
    np.testing.assert_allclose(decoded[0, 0], [1, 0, 0])
    np.testing.assert_allclose(decoded[0, 3], [1, 1, 1])

    palette = Image.fromarray(photo_crops(1)[0]).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.save(tmp_path / "palette.png")
    decoded = images.decode_rgb(tf.io.read_file(str(tmp_path / "palette.png"))).numpy()
    np.testing.assert_allclose(decoded * 255, np.asarray(palette.convert("RGB")), atol=0.5)

    deep = np.zeros((4, 4, 3), np.uint16)
    deep[..., 1] = 65535
    (tmp_path / "deep.png").write_bytes(tf.io.encode_png(tf.constant(deep)).numpy())
    np.testing.assert_allclose(images.decode_rgb(tf.io.read_file(str(tmp_path / "deep.png"))).numpy()[0, 0], [0, 1, 0])


@pytest.mark.parametrize("suffix, options",
                         [(".bmp", {}), (".gif", {}), (".webp", {"lossless": True}), (".jpeg", {"quality": 95})])
def test_folder_finds_every_supported_format_recursively(tmp_path, suffix, options):
    image = photo_crops(1)[0]
    save_image(tmp_path / "deep" / "er" / f"photo{suffix.upper()}", image, **options)
    files = photo_files.find_images(tmp_path)
    assert files == [str(tmp_path / "deep" / "er" / f"photo{suffix.upper()}")]
    decoded = images.decode_rgb(tf.io.read_file(files[0])).numpy()
    assert decoded.shape == (32, 32, 3)
    tolerance = 0.35 if suffix == ".gif" else 0.1  # GIF quantizes to 256 colours
    assert np.abs(decoded * 255 - image).mean() < tolerance * 255 / 4


def test_folder_split_uses_train_and_val_subfolders_or_holds_out(tmp_path):
    crops = photo_crops(6)
    for index in range(4):
        save_image(tmp_path / "split" / "train" / f"{index}.png", crops[index])
    save_image(tmp_path / "split" / "val" / "v.png", crops[5])
    train, validation = photo_files.folder_files(tmp_path / "split")
    assert len(train) == 4 and validation == [str(tmp_path / "split" / "val" / "v.png")]
    for index in range(6):
        save_image(tmp_path / "flat" / f"{index}.png", crops[index])
    train, validation = photo_files.folder_files(tmp_path / "flat")
    assert len(train) == 5 and len(validation) == 1 and not set(train) & set(validation)


def test_large_images_are_resized_then_cropped_to_model_size(tmp_path):
    for index in range(2):
        save_image(tmp_path / f"{index}.jpg", photo_crops(1, size=120, seed=index)[0])
    config = DataConfig(dataset="folder", dataset_path=str(tmp_path), image_size=32)
    l_scaled, ab = next(iter(pipelines.make_pipelines(config, 1, seed=0).train))
    assert l_scaled.shape == (1, 32, 32, 1) and ab.shape == (1, 32, 32, 2)


def test_bad_dataset_arguments_raise_dataset_errors(tmp_path):
    with pytest.raises(pipelines.DatasetError, match="needs --dataset-path"):
        pipelines.make_pipelines(DataConfig(dataset="cifar10"), 4, 0)
    with pytest.raises(pipelines.DatasetError, match="does not exist"):
        pipelines.make_pipelines(DataConfig(dataset="folder", dataset_path=str(tmp_path / "nope")), 4, 0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(pipelines.DatasetError, match="fewer than one batch"):
        pipelines.make_pipelines(DataConfig(dataset="folder", dataset_path=str(tmp_path / "empty")), 4, 0)
    with pytest.raises(pipelines.DatasetError, match="not found"):
        pipelines.make_pipelines(DataConfig(dataset="cifar10", dataset_path=str(tmp_path / "empty")), 4, 0)


def test_all_corrupt_images_are_found_out_in_one_pass_instead_of_hanging(tmp_path):
    for index in range(3):
        (tmp_path / f"{index}.jpg").write_bytes(b"garbage")
    pipes = pipelines.make_pipelines(DataConfig(dataset="folder", dataset_path=str(tmp_path)), 1, 0, validate=False)
    assert pipes.has_images() is False  # what training checks before it starts the endless stream
    assert pipes.stats.as_dict()["corrupt"] >= 2


def test_the_training_stream_from_batch_k_is_the_uninterrupted_stream_from_k(cifar_dir, tmp_path):
    config = DataConfig(dataset="cifar10", dataset_path=str(cifar_dir), crop_scale=(0.5, 1.0))
    pipes = pipelines.make_pipelines(config, 4, seed=3, validate=False)  # 30 images (5 gray): 7 batches an epoch
    whole = _take(pipes.train, 17)
    for start in (5, 7, 12):
        for a, b in zip(whole[start:], _take(pipes.train_from(start), 17 - start)):
            np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(whole[0][1], whole[7][1])  # epochs differ: a new order and new crops
    for index in range(6):
        save_image(tmp_path / "photos" / f"{index}.png", photo_crops(1, size=64, seed=index)[0])
    cached = pipelines.make_pipelines(DataConfig(dataset="folder", dataset_path=str(tmp_path / "photos"), image_size=32,
                                            crop_scale=(0.5, 1.0), cache=True), 2, seed=3, validate=False)
    uncached = pipelines.make_pipelines(DataConfig(dataset="folder", dataset_path=str(tmp_path / "photos"), image_size=32,
                                              crop_scale=(0.5, 1.0)), 2, seed=3, validate=False)
    for a, b in zip(_take(cached.train_from(4), 4), _take(uncached.train_from(4), 4)):
        np.testing.assert_allclose(a[1], b[1], atol=1e-6)  # the cache changes where pixels come from, not what


def test_demo_dataset_has_separate_train_and_validation_patches():
    pipes = pipelines.make_pipelines(DataConfig(dataset="demo", demo_patches=64), 16, seed=0)
    assert pipes.train_examples == 64 and pipes.steps_per_epoch == 4
    l_scaled, ab = next(iter(pipes.train))
    assert l_scaled.shape == (16, 32, 32, 1) and ab.shape == (16, 32, 32, 2)
    assert sum(len(batch[0]) for batch in pipes.validation) == 48


def test_lab_on_whole_batches_equals_lab_image_by_image():
    # Before the vectorisation each image was converted to Lab on its own, then batched.
    rgb = tf.image.convert_image_dtype(photo_crops(8, seed=5), tf.float32)
    (l_scaled, ab_scaled), = _take(pipelines._as_model_batches(tf.data.Dataset.from_tensors(rgb), DataConfig()), 1)
    for index in range(8):
        l_expected, ab_expected = color.encode(rgb[index], "lab")
        np.testing.assert_allclose(l_scaled[index], l_expected, atol=1e-6)
        np.testing.assert_allclose(ab_scaled[index], ab_expected, atol=1e-6)


def test_big_jpegs_decode_at_the_smallest_scale_the_model_needs(tmp_path):
    photo = np.asarray(tf.image.resize(photo_crops(1, size=200)[0], (400, 520)), np.uint8)
    jpeg = save_image(tmp_path / "big.jpg", photo, quality=95).read_bytes()
    assert images.decode_rgb(jpeg).shape == (400, 520, 3)
    assert images.decode_rgb(jpeg, min_side=100).shape == (100, 130, 3)  # 1/4: 400 / 4 >= 100 > 400 / 8
    assert images.decode_rgb(jpeg, min_side=150).shape == (200, 260, 3)
    assert images.decode_rgb(jpeg, min_side=500).shape == (400, 520, 3)  # never smaller than asked
    full = tf.image.resize(images.decode_rgb(jpeg), (100, 130), antialias=True)
    assert float(tf.reduce_mean(tf.abs(full - images.decode_rgb(jpeg, min_side=100)))) < 0.02
    png = save_image(tmp_path / "big.png", photo).read_bytes()
    assert images.decode_rgb(png, min_side=100).shape == (400, 520, 3)  # other formats decode in full


def test_crops_at_small_scales_keep_detail_that_whole_photo_thumbnails_average_away():
    checker = np.kron((np.indices((64, 64)).sum(axis=0) % 2), np.ones((4, 4)))  # 256 x 256, 4-px squares
    rgb = tf.constant(np.repeat(checker[..., None], 3, axis=-1), tf.float32)
    seed = tf.constant([1, 2], tf.int64)
    whole = images.random_square_crop(rgb, 32, (1.0, 1.0), seed)
    detail = images.random_square_crop(rgb, 32, (0.125, 0.125), seed)
    assert whole.shape == detail.shape == (32, 32, 3)
    assert float(tf.math.reduce_std(whole)) < 0.1 and float(tf.math.reduce_std(detail)) > 0.45
    mixed = [images.random_square_crop(rgb, 32, (0.125, 1.0), tf.constant([s, 0], tf.int64)) for s in range(12)]
    spreads = [float(tf.math.reduce_std(crop)) for crop in mixed]
    assert min(spreads) < 0.3 < max(spreads)  # a range of scales, not one


def test_a_photo_smaller_than_the_crops_need_gives_crops_of_the_same_fraction():
    # 40 x 40, values rising left to right: a crop at scale 0.25 spans a quarter of the ramp, wherever it is.
    ramp = tf.constant(np.broadcast_to(np.linspace(0, 1, 40, dtype=np.float32)[None, :, None], (40, 40, 3)))
    assert images.resize_shorter_side(ramp, 128, enlarge=False).shape == (40, 40, 3)  # kept small, not enlarged
    for s in range(5):
        crop = images.random_square_crop(ramp, 32, (0.25, 0.25), tf.constant([s, 7], tf.int64))
        assert crop.shape == (32, 32, 3)
        assert 0.2 < float(tf.reduce_max(crop) - tf.reduce_min(crop)) < 0.3


def test_patch_sampling_is_reproducible_from_the_seed(tmp_path):
    for index in range(6):
        save_image(tmp_path / "photos" / f"{index}.jpg", photo_crops(1, size=160, seed=index)[0], quality=95)
    config = DataConfig(dataset="folder", dataset_path=str(tmp_path / "photos"), image_size=32, crop_scale=(0.25, 1.0))
    assert pipelines.largest_needed_side(config) == 128
    first = _take(pipelines.make_pipelines(config, 3, seed=11, validate=False).train, 3)
    again = _take(pipelines.make_pipelines(config, 3, seed=11, validate=False).train, 3)
    other = _take(pipelines.make_pipelines(config, 3, seed=12, validate=False).train, 3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a[1], b[1])
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, other))


def test_demo_patches_take_the_crop_scale_and_keep_fixed_validation_patches():
    default = pipelines.make_pipelines(DataConfig(dataset="demo", demo_patches=32), 16, seed=0)
    zoomed = pipelines.make_pipelines(DataConfig(dataset="demo", demo_patches=32, crop_scale=(0.5, 1.0)), 16, seed=0)
    # The demo's patches come cut at their scale (a sixth of a photo's shorter side by default): the
    # pipeline does not cut them again.
    assert demo.DEFAULT_CROP_SCALE == (1 / 6, 1 / 6)
    assert pipelines.crop_scale(DataConfig(dataset="demo", crop_scale=(0.5, 1.0))) == (1.0, 1.0)
    for (a, _), (b, _) in zip(default.validation, zoomed.validation):
        np.testing.assert_array_equal(a, b)  # every run validates on the same held-back patches
    assert not np.array_equal(next(iter(default.train))[0], next(iter(zoomed.train))[0])


def test_a_photos_source_is_its_file_name_prefix():
    assert photo_files.source_of("/x/photos-more/kphotoalbum-grand_canyon_1.jpg") == "kphotoalbum"
    assert photo_files.source_of("gcompris-a-b.jpg") == "gcompris" and photo_files.source_of("plain.jpg") == "plain.jpg"
