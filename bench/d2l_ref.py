"""The baseline of `bench/run.py`: the seed recipe the way d2l 0.17.6 trains it, as a script a reader would run.

    python bench/d2l_ref.py --root DATA_ROOT [--epochs 10] [--seed 0] [--copy]

It runs **the real d2l package** (`pip install --no-deps d2l==0.17.6 pandas`: d2l 0.17.6 pins numpy 1.21.5, which has
no wheel for Python >= 3.11, so its own requirements cannot be installed; its code runs on today's numpy) when it is
importable at version 0.17.6: the code of the book's section 4.3 (concise MLP), untouched:

    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)); net.apply(init_weights)
    loss = nn.CrossEntropyLoss(reduction='none'); trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    train_iter, test_iter = d2l.load_data_fashion_mnist(256)
    d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)

d2l reads the data from `../data`, so the script runs in a scratch folder whose `../data` links to `DATA_ROOT`.
`train_ch3` returns nothing: its per-epoch test accuracies are recorded by wrapping `d2l.evaluate_accuracy` (a
dictionary lookup per epoch). Its `Animator` draws every epoch (in a script, `IPython.display` prints the figure's
repr), and its final `assert`s run, as they do for a reader (one that fails, e.g. after a short run, is reported as
`failed_check`, after the timing).

Without d2l 0.17.6 (or with `--copy`) it runs `_Copy`, the same functions written out below from d2l 0.17.6's
`d2l/torch.py`, less the `Animator` and the `assert`s; the report says which one ran (`source`).

Prints one JSON line: `source`, `import_s` (importing torch and d2l), `train_s` (the `train_ch3` call: training and a
test pass per epoch, as `mlp-nbdev train`'s `seconds`), `test_acc` per epoch. The whole process is timed by the caller.
"""
import argparse, json, os, sys, tempfile, time
T0 = time.perf_counter()
import torch
from torch import nn

class _Copy:
    "d2l 0.17.6's chapter 3 functions, written out (used only where the d2l package is not installed)."
    @staticmethod
    def load_data_fashion_mnist(batch_size):
        import torchvision
        from torch.utils import data
        from torchvision import transforms
        trans = transforms.Compose([transforms.ToTensor()])
        train = torchvision.datasets.FashionMNIST(root="../data", train=True, transform=trans, download=True)
        test = torchvision.datasets.FashionMNIST(root="../data", train=False, transform=trans, download=True)
        return (data.DataLoader(train, batch_size, shuffle=True, num_workers=4),
                data.DataLoader(test, batch_size, shuffle=False, num_workers=4))

    @staticmethod
    def accuracy(y_hat, y):
        if len(y_hat.shape) > 1 and y_hat.shape[1] > 1: y_hat = y_hat.argmax(axis=1)
        return float((y_hat.type(y.dtype) == y).type(y.dtype).sum())

    def evaluate_accuracy(self, net, data_iter):
        net.eval()
        right, n = 0., 0.
        with torch.no_grad():
            for X, y in data_iter: right += self.accuracy(net(X), y); n += y.numel()
        return right / n

    def train_epoch_ch3(self, net, train_iter, loss, updater):
        net.train()
        metric = [0., 0., 0.]
        for X, y in train_iter:
            y_hat = net(X); l = loss(y_hat, y)
            updater.zero_grad(); l.mean().backward(); updater.step()
            metric = [a + float(b) for a, b in zip(metric, (l.sum(), self.accuracy(y_hat, y), y.numel()))]
        return metric[0] / metric[2], metric[1] / metric[2]

    def train_ch3(self, net, train_iter, test_iter, loss, num_epochs, updater):
        for epoch in range(num_epochs):
            self.train_epoch_ch3(net, train_iter, loss, updater)
            self.evaluate_accuracy(net, test_iter)

def _d2l(copy:bool):
    "The d2l 0.17.6 package, or the written-out copy: `(module-like object, source name)`."
    if not copy:
        try:
            import d2l
            if d2l.__version__ == '0.17.6':
                from d2l import torch as d2l_torch
                return d2l_torch, 'd2l 0.17.6 package'
        except ImportError: pass
    c = _Copy()
    return c, 'copy of d2l 0.17.6 (bench/d2l_ref.py; d2l not installed)'

def main(root, num_epochs=10, seed=0, copy=False)->dict:
    os.environ.setdefault('MPLBACKEND', 'Agg')
    d2l, source = _d2l(copy)
    import_s = time.perf_counter() - T0
    accs, evaluate = [], d2l.evaluate_accuracy
    def recording(net, data_iter):
        accs.append(evaluate(net, data_iter)); return accs[-1]
    d2l.evaluate_accuracy = recording  # `train_ch3` looks it up in its module `d2l.torch` (in the copy: on the instance)
    home, failed_check = os.getcwd(), None
    with tempfile.TemporaryDirectory() as tmp:  # d2l reads `../data`
        os.symlink(os.path.abspath(root), os.path.join(tmp, 'data')); os.mkdir(os.path.join(tmp, 'work'))
        os.chdir(os.path.join(tmp, 'work'))
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        def init_weights(m):
            if type(m) == nn.Linear: nn.init.normal_(m.weight, std=0.01)
        net.apply(init_weights)
        batch_size, lr = 256, 0.1
        loss = nn.CrossEntropyLoss(reduction='none')
        trainer = torch.optim.SGD(net.parameters(), lr=lr)
        t = time.perf_counter()
        train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        try: d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
        except AssertionError as e: failed_check = f"d2l's final check failed: {e}"  # after the training: e.g. a short run
        train_s = time.perf_counter() - t
        os.chdir(home)  # out of the folder before it goes (IPython's exit handler reads the cwd)
    return dict(source=source, import_s=round(import_s, 3), load_s=round(load_s, 3), train_s=round(train_s, 3),
                test_acc=[round(a, 4) for a in accs], epochs=num_epochs, seed=seed, threads=torch.get_num_threads(),
                failed_check=failed_check)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--root', required=True, help='data root holding FashionMNIST/raw')
    p.add_argument('--epochs', type=int, default=10, help='epochs (default 10)')
    p.add_argument('--seed', type=int, default=0, help='torch.manual_seed before building the net (default 0)')
    p.add_argument('--copy', action='store_true', help='run the written-out copy even if the d2l package is installed')
    a = p.parse_args()
    rep = main(a.root, a.epochs, a.seed, a.copy)
    print('\nD2L_REPORT ' + json.dumps(rep), flush=True)  # on a line of its own: d2l's Animator leaves escape codes
