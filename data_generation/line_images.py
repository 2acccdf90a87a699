# Synthetic images for a small classification task: each 28x28 grayscale
# picture holds one line, and the label says which way it points as it goes
# from left to right: 1 if it rises, 0 if it falls.
import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 28


def draw_line_image(rng):
    # A line of random length, thickness and brightness through a random
    # point near the middle, at 20 to 70 degrees from the horizontal
    rises = rng.random() < 0.5
    angle = np.deg2rad(rng.uniform(20, 70))
    half_length = rng.uniform(5, 11)
    center_x, center_y = rng.uniform(10, 18, size=2)
    dx = half_length * np.cos(angle)
    # The image's y axis points down: a rising line has its right end higher
    dy = -half_length * np.sin(angle) if rises else half_length * np.sin(angle)
    image = Image.new('L', (IMAGE_SIZE, IMAGE_SIZE), color=0)
    ImageDraw.Draw(image).line(
        [(center_x - dx, center_y - dy), (center_x + dx, center_y + dy)],
        fill=int(rng.integers(128, 256)), width=int(rng.integers(1, 4)),
    )
    return image, int(rises)


def write_line_images(folder, n_images, seed=42):
    # One PNG file per image, plus labels.csv listing each file and its label
    if not isinstance(n_images, int) or n_images < 1:
        raise ValueError(f'n_images must be a positive whole number, not {n_images!r}')
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n_images):
        image, label = draw_line_image(rng)
        file_name = f'{index:06d}.png'
        # The fastest compression: these files are tiny either way
        image.save(folder / file_name, compress_level=1)
        rows.append((file_name, label))
    # Written last: a folder with labels.csv holds every image it lists
    with open(folder / 'labels.csv', 'w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(['file', 'label'])
        writer.writerows(rows)
    return folder
