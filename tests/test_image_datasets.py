"""The image datasets: right items, on-demand and eager alike, clear errors."""
import numpy as np
import pytest
import torch
from PIL import Image

from data_generation.line_images import write_line_images
from data_preparation.image_datasets import EagerLineImages, OnDemandLineImages

N_IMAGES = 60


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
    return write_line_images(tmp_path_factory.mktemp('line_images'), N_IMAGES, seed=7)


def line_rises(image):
    # Read from the pixels alone: the image's rows count downwards, so a
    # line that rises to the right has its column and row going opposite ways
    rows, columns = np.nonzero(image[0].numpy())
    weights = image[0].numpy()[rows, columns]
    return np.cov(columns, rows, aweights=weights)[0, 1] < 0


@pytest.mark.parametrize('dataset_class', [OnDemandLineImages, EagerLineImages])
def test_every_file_is_an_item_whose_label_matches_its_picture(image_folder, dataset_class):
    dataset = dataset_class(image_folder)
    assert len(dataset) == N_IMAGES == len(list(image_folder.glob('*.png')))
    labels = []
    for index in range(len(dataset)):
        image, label = dataset[index]
        assert image.shape == (1, 28, 28) and image.dtype == torch.float32
        assert 0 <= image.min() and image.max() <= 1 and image.max() > 0.5
        assert label.shape == (1,) and label.item() in (0.0, 1.0)
        assert line_rises(image) == bool(label.item()), f'item {index}'
        labels.append(label.item())
    assert 0 < sum(labels) < N_IMAGES, 'both directions should occur'


def test_on_demand_and_eager_agree_item_by_item(image_folder):
    on_demand, eager = OnDemandLineImages(image_folder), EagerLineImages(image_folder)
    assert len(on_demand) == len(eager)
    for index in range(len(eager)):
        (x_lazy, y_lazy), (x_eager, y_eager) = on_demand[index], eager[index]
        assert torch.equal(x_lazy, x_eager) and torch.equal(y_lazy, y_eager)


def test_only_the_eager_dataset_holds_the_pixels(image_folder):
    eager = EagerLineImages(image_folder)
    assert eager.images.shape == (N_IMAGES, 1, 28, 28)
    assert not any(isinstance(value, torch.Tensor) and value.dim() == 4
                   for value in vars(OnDemandLineImages(image_folder)).values())


def test_the_same_seed_writes_the_same_images(tmp_path, image_folder):
    again = write_line_images(tmp_path / 'again', N_IMAGES, seed=7)
    other = write_line_images(tmp_path / 'other', N_IMAGES, seed=8)
    assert (again / 'labels.csv').read_text() == (image_folder / 'labels.csv').read_text()
    same = [(again / name).read_bytes() == (image_folder / name).read_bytes()
            for name in ('000000.png', '000059.png')]
    assert same == [True, True]
    assert (other / '000000.png').read_bytes() != (image_folder / '000000.png').read_bytes()


@pytest.mark.parametrize('n_images', [0, -3, 2.5, '10'])
def test_the_generator_refuses_a_bad_count(tmp_path, n_images):
    with pytest.raises(ValueError, match='n_images must be a positive whole number'):
        write_line_images(tmp_path, n_images)


@pytest.mark.parametrize('dataset_class', [OnDemandLineImages, EagerLineImages])
def test_a_folder_without_labels_is_named(tmp_path, dataset_class):
    with pytest.raises(FileNotFoundError, match=f"no labels.csv in '{tmp_path}'"):
        dataset_class(tmp_path)


@pytest.mark.parametrize('text, message', [
    ('name,label\n000000.png,1\n', r"line 1: expected 'file,label', got 'name,label'"),
    ('file,label\n000000.png,1\n000001.png,up\n',
     r"line 3: expected a file name and a label 0 or 1, got '000001.png,up'"),
    ('file,label\n000000.png\n', r"line 2: expected a file name and a label 0 or 1, got '000000.png'"),
    ('file,label\n', 'lists no image'),
    ('', r"line 1: expected 'file,label', got ''"),
])
def test_a_broken_labels_file_is_explained_with_its_line(tmp_path, text, message):
    (tmp_path / 'labels.csv').write_text(text)
    with pytest.raises(ValueError, match=message):
        OnDemandLineImages(tmp_path)


def test_a_colour_image_is_refused_naming_its_file(tmp_path):
    (tmp_path / 'labels.csv').write_text('file,label\ncolour.png,1\n')
    Image.new('RGB', (28, 28)).save(tmp_path / 'colour.png')
    with pytest.raises(ValueError, match=r'colour\.png: expected a grayscale image \(mode L\), got mode RGB'):
        OnDemandLineImages(tmp_path)[0]
    with pytest.raises(ValueError, match=r'colour\.png: expected a grayscale image'):
        EagerLineImages(tmp_path)


def test_eager_loading_refuses_images_of_different_sizes(tmp_path):
    (tmp_path / 'labels.csv').write_text('file,label\na.png,1\nb.png,0\n')
    Image.new('L', (28, 28)).save(tmp_path / 'a.png')
    Image.new('L', (32, 28)).save(tmp_path / 'b.png')
    with pytest.raises(ValueError, match=r'b\.png: shape \(1, 28, 32\), but the first image has shape \(1, 28, 28\)'):
        EagerLineImages(tmp_path)
