"""The baseline of `bench/run.py`: the seed recipe the way d2l 0.17.6 trains it, as a script a reader would run.

    python bench/d2l_ref.py --root DATA_ROOT [--epochs 10] [--seed 0]

The book's section 4.3 (concise MLP), untouched, on the real d2l package (`pip install --no-deps d2l==0.17.6
pandas`, as `make bench` does: its numpy pin has no wheel for Python >= 3.11; its code runs on today's numpy), in a
scratch folder whose `../data` (where d2l reads) links to `DATA_ROOT`. The per-epoch test accuracies are recorded by
wrapping `d2l.evaluate_accuracy`. The `Animator` draws and the final `assert`s run, as for a reader (one that fails,
e.g. after a short run, is reported as `failed_check`). Prints one JSON line: `import_s`, `load_s`, `train_s` (the
`train_ch3` call: training and a test pass per epoch), `test_acc` per epoch. The caller times the process.
"""
import argparse, json, os, sys, tempfile, time
T0 = time.perf_counter()
import torch
from torch import nn

def main(root, num_epochs=10, seed=0)->dict:
    os.environ.setdefault('MPLBACKEND', 'Agg')
    try:
        import d2l
        if d2l.__version__ != '0.17.6': raise ImportError(f"d2l {d2l.__version__} is installed")
        from d2l import torch as d2l
    except ImportError as e:
        sys.exit(f"d2l 0.17.6 does not import ({e}): pip install --no-deps d2l==0.17.6 pandas (make bench does).")
    import_s = time.perf_counter() - T0
    accs, evaluate = [], d2l.evaluate_accuracy
    def recording(net, data_iter):
        accs.append(evaluate(net, data_iter)); return accs[-1]
    d2l.evaluate_accuracy = recording  # `train_ch3` looks it up in its module, `d2l.torch`
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
        load_s, t = time.perf_counter() - t, time.perf_counter()
        try: d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
        except AssertionError as e: failed_check = f"d2l's final check failed: {e}"  # after the training
        train_s = time.perf_counter() - t
        os.chdir(home)  # out of the folder before it goes (IPython's exit handler reads the cwd)
    return dict(source='d2l 0.17.6 package', import_s=round(import_s, 3), load_s=round(load_s, 3),
                train_s=round(train_s, 3), test_acc=[round(a, 4) for a in accs], epochs=num_epochs, seed=seed,
                threads=torch.get_num_threads(), failed_check=failed_check)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--root', required=True, help='data root holding FashionMNIST/raw')
    p.add_argument('--epochs', type=int, default=10, help='epochs (default 10)')
    p.add_argument('--seed', type=int, default=0, help='torch.manual_seed before building the net (default 0)')
    a = p.parse_args()
    rep = main(a.root, a.epochs, a.seed)
    print('\nD2L_REPORT ' + json.dumps(rep), flush=True)  # on a line of its own: d2l's Animator leaves escape codes
