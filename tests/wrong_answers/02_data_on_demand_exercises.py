"""Plausible wrong answers to notebooks/exercises/02_data_on_demand_exercises.ipynb,
keyed by the grade_id of the solution cell they replace, each the model answer
with one mistake: WRONG_ANSWERS for the grading loop, MORE_WRONG_ANSWERS for
`make check` (tests/wrong_answers/01_training_loop_exercises.py says how).
Each one runs without error and fails its exercise's checks."""

WRONG_ANSWERS = {
    # Exercise 1: the label comes as an integer tensor, which a loss for a
    # binary classifier refuses
    'dataset_answer': '''\
class ImageFiles(Dataset):
    def __init__(self, folder):
        self.folder = Path(folder)
        with open(self.folder / 'labels.csv', newline='') as file:
            rows = list(csv.DictReader(file))
        self.file_names = [row['file'] for row in rows]
        self.labels = torch.tensor([int(row['label']) for row in rows]).view(-1, 1)

    def __getitem__(self, index):
        with Image.open(self.folder / self.file_names[index]) as image:
            pixels = torch.from_numpy(np.array(image))
        return pixels.unsqueeze(0).float() / 255, self.labels[index]

    def __len__(self):
        return len(self.file_names)
''',
    # Exercise 2: seeds the global stream instead of giving the loader a
    # generator: the same seed gives the same epoch, but the loader resets
    # and draws from what the rest of the program uses
    'workers_answer': '''\
def reseed_in_worker(worker_id):
    info = get_worker_info()
    info.dataset.rng = np.random.default_rng(info.seed)


def reproducible_loader(dataset, batch_size, seed, num_workers=0):
    torch.manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers, worker_init_fn=reseed_in_worker,
        multiprocessing_context='fork' if num_workers > 0 else None,
    )
''',
}

MORE_WRONG_ANSWERS = {
    # Exercise 1: every image is read in __init__ "to be fast", the eager
    # dataset notebook 02 warns about
    'dataset_answer': '''\
class ImageFiles(Dataset):
    def __init__(self, folder):
        self.folder = Path(folder)
        with open(self.folder / 'labels.csv', newline='') as file:
            rows = list(csv.DictReader(file))
        self.labels = torch.tensor([float(row['label']) for row in rows]).view(-1, 1)
        self.images = []
        for row in rows:
            with Image.open(self.folder / row['file']) as image:
                self.images.append(torch.from_numpy(np.array(image)).unsqueeze(0).float() / 255)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def __len__(self):
        return len(self.images)
''',
    # Exercise 2: each worker's generator is seeded with the worker's number,
    # so the noise is the same whatever the loader's seed
    'workers_answer': '''\
def reseed_in_worker(worker_id):
    get_worker_info().dataset.rng = np.random.default_rng(worker_id)


def reproducible_loader(dataset, batch_size, seed, num_workers=0):
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed), worker_init_fn=reseed_in_worker,
        multiprocessing_context='fork' if num_workers > 0 else None,
    )
''',
}
