"""The reference pipeline for `bench/run.py`: chapter 3 of d2l 0.17 (PyTorch), written out here as d2l has it, so
the benchmark does not need `pip install d2l`.

- data: torchvision `FashionMNIST` with `transforms.ToTensor()` per image, `DataLoader(shuffle=True, num_workers=4)`
  (d2l's `get_dataloader_workers()`);
- `accuracy` and `Accumulator` read every batch back to Python (`float(l.sum())`, `float(cmp.sum())`);
- `train_epoch_ch3` / `evaluate_accuracy` / `train_ch3` as in d2l, with the net, loss and optimizer of the seed
  recipe (`nn.Sequential(Flatten, Linear(784, 256), ReLU, Linear(256, 10))`, weights N(0, 0.01²),
  `CrossEntropyLoss(reduction='none')`, `SGD(lr=0.1)`).

Two things are left out, both outside the timed work a script can see: d2l's `Animator` (it redraws a matplotlib
figure in Jupyter after every epoch) and the `assert`s on the final accuracy at the end of `train_ch3` (the
benchmark compares the accuracies itself). `root` is passed in instead of d2l's `'../data'`.
"""
import time
import torch
from torch import nn
from torch.utils import data
import torchvision
from torchvision import transforms

def get_dataloader_workers():
    "d2l: 'Use 4 processes to read the data.'"
    return 4

class SameOrder(data.Sampler):
    "Every epoch, `torch.randperm(n)` from a generator seeded once: the order `mlp_nbdev`'s `TensorBatches` draws."
    def __init__(self, n, seed):
        self.n, self.gen = n, torch.Generator().manual_seed(seed)
    def __len__(self): return self.n
    def __iter__(self): return iter(torch.randperm(self.n, generator=self.gen).tolist())

def load_data_fashion_mnist(batch_size, resize=None, root='../data', order_seed=None):
    "d2l 0.17: download the Fashion-MNIST dataset and then load it into memory (`order_seed`: see `SameOrder`)."
    trans = [transforms.ToTensor()]
    if resize: trans.insert(0, transforms.Resize(resize))
    trans = transforms.Compose(trans)
    mnist_train = torchvision.datasets.FashionMNIST(root=root, train=True, transform=trans, download=False)
    mnist_test = torchvision.datasets.FashionMNIST(root=root, train=False, transform=trans, download=False)
    sampler = None if order_seed is None else SameOrder(len(mnist_train), order_seed)
    return (data.DataLoader(mnist_train, batch_size, shuffle=sampler is None, sampler=sampler,
                            num_workers=get_dataloader_workers()),
            data.DataLoader(mnist_test, batch_size, shuffle=False, num_workers=get_dataloader_workers()))

class Accumulator:
    "d2l: for accumulating sums over `n` variables."
    def __init__(self, n): self.data = [0.0] * n
    def add(self, *args): self.data = [a + float(b) for a, b in zip(self.data, args)]
    def reset(self): self.data = [0.0] * len(self.data)
    def __getitem__(self, idx): return self.data[idx]

def accuracy(y_hat, y):
    "d2l: compute the number of correct predictions."
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1: y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())

def evaluate_accuracy(net, data_iter):
    "d2l: compute the accuracy for a model on a dataset."
    if isinstance(net, torch.nn.Module): net.eval()
    metric = Accumulator(2)  # no. of correct predictions, no. of predictions
    with torch.no_grad():
        for X, y in data_iter: metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]

def train_epoch_ch3(net, train_iter, loss, updater):
    "d2l: the training loop defined in Chapter 3."
    if isinstance(net, torch.nn.Module): net.train()
    metric = Accumulator(3)  # sum of training loss, sum of training accuracy, no. of examples
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.mean().backward()
            updater.step()
        else:
            l.sum().backward()
            updater(X.shape[0])
        metric.add(float(l.sum()), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2]

def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
    "d2l: train a model (Chapter 3), without the Animator; returns the per-epoch records."
    records = []
    for epoch in range(num_epochs):
        t0 = time.perf_counter()
        train_loss, train_acc = train_epoch_ch3(net, train_iter, loss, updater)
        test_acc = evaluate_accuracy(net, test_iter)
        records.append(dict(epoch=epoch + 1, train_loss=train_loss, train_acc=train_acc, test_acc=test_acc,
                            seconds=time.perf_counter() - t0))
    return records

def init_weights(m):
    "d2l: N(0, 0.01²) weights for every `nn.Linear`."
    if type(m) == nn.Linear: nn.init.normal_(m.weight, std=0.01)

def seed_recipe(root, num_epochs=10, seed=0, batch_size=256, lr=0.1, same_order=True):
    "The seed recipe the d2l way, from reading the files to the last epoch: `(records, seconds)`."
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    net.apply(init_weights)
    train_iter, test_iter = load_data_fashion_mnist(batch_size, root=root, order_seed=seed if same_order else None)
    loss = nn.CrossEntropyLoss(reduction='none')
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    records = train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
    return records, time.perf_counter() - t0
