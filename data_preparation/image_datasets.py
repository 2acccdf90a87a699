# Datasets over a folder of image files listed in labels.csv.
# This is a module to import, not a script to %run -i: a DataLoader worker
# started with 'spawn' (the default on macOS and Windows) rebuilds the dataset
# by importing its class by module and name, and a class defined in a notebook
# lives in __main__, which such a worker cannot import.
import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset


def read_labels(folder):
    # The small part of the data, read once: file names and labels
    path = Path(folder) / 'labels.csv'
    if not path.is_file():
        raise FileNotFoundError(
            f'no labels.csv in {str(folder)!r}: write the images first'
        )
    file_names, labels = [], []
    with open(path, newline='') as file:
        rows = csv.reader(file)
        header = next(rows, [])
        if header != ['file', 'label']:
            raise ValueError(f"{path}, line 1: expected 'file,label', got {','.join(header)!r}")
        for line_number, row in enumerate(rows, start=2):
            if len(row) != 2 or row[1] not in ('0', '1'):
                raise ValueError(
                    f'{path}, line {line_number}: expected a file name and a '
                    f'label 0 or 1, got {",".join(row)!r}'
                )
            file_names.append(row[0])
            labels.append(float(row[1]))
    if not labels:
        raise ValueError(f'{path} lists no image')
    # One NumPy array of names instead of a list of Python strings: a forked
    # worker that reads a Python object also writes to it (its reference
    # count), which copies the memory page holding it into that worker
    return np.array(file_names), torch.tensor(labels).view(-1, 1)


def load_image(path):
    # One grayscale file, as a float tensor of shape (1, height, width) in [0, 1]
    with Image.open(path) as image:
        if image.mode != 'L':
            raise ValueError(f'{path}: expected a grayscale image (mode L), got mode {image.mode}')
        pixels = torch.from_numpy(np.array(image))
    return pixels.unsqueeze(0).float().div(255)


class LineImageDataset(Dataset):
    # What both datasets share: labels, length and the optional noise; they
    # differ only in where load_pixels finds an image
    def __init__(self, folder, noise_std=0.0, seed=0):
        self.folder = Path(folder)
        self.file_names, self.labels = read_labels(folder)
        self.noise_std = noise_std
        self.reseed(seed)

    def reseed(self, seed):
        self.rng = np.random.default_rng(seed)

    def __getitem__(self, index):
        image = self.load_pixels(index)
        if self.noise_std:
            # A random augmentation: a fresh noise pattern at every visit
            noise = self.rng.standard_normal(image.shape, dtype=np.float32)
            image = image + self.noise_std * torch.from_numpy(noise)
        return image, self.labels[index]

    def __len__(self):
        return len(self.labels)


class OnDemandLineImages(LineImageDataset):
    # Keeps only the file names: memory stays flat however many files there are
    def load_pixels(self, index):
        return load_image(self.folder / self.file_names[index])


class EagerLineImages(LineImageDataset):
    # Reads every image into one tensor up front: memory grows with the data
    def __init__(self, folder, noise_std=0.0, seed=0):
        super().__init__(folder, noise_std, seed)
        first = load_image(self.folder / self.file_names[0])
        self.images = torch.empty((len(self), *first.shape))
        for index, file_name in enumerate(self.file_names):
            image = load_image(self.folder / file_name)
            if image.shape != first.shape:
                raise ValueError(
                    f'{self.folder / file_name}: shape {tuple(image.shape)}, but '
                    f'the first image has shape {tuple(first.shape)}'
                )
            self.images[index] = image

    def load_pixels(self, index):
        return self.images[index]
