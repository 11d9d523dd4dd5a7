"""The device-resident trainer of `bench/run.py`: the project's own pieces (the network of `mlp_nbdev.concise`, the
loss, optimizer and one-cycle schedule of `mlp_nbdev.recipes.make_trainer`, all torch's own: `CrossEntropyLoss(label_smoothing=)`,
`torch.optim`, `OneCycleLR`) in a loop that never waits for the host.

- The data stays on the device as `uint8` (N, 784); a batch is an `index_select` of a permutation drawn on the device,
  converted to float and scaled to [0, 1] (the network's `Normalize` layer, if the recipe has one, does the rest).
- Loss and accuracy are summed on the device; the host reads them once, after the last epoch (and syncs once per
  epoch, for the timing only).
- `dtype=torch.bfloat16`: the forward pass under `torch.autocast(bfloat16)`, weights, gradients and steps in float32,
  as `train_ch3(amp='bf16')` does.
- `mode='compile'`: the forward pass and loss go through `torch.compile` (inductor: a C++ compiler on the CPU;
  `mode='reduce-overhead'` on CUDA, which replays them, and their backward, as CUDA graphs). The optimizer step and the
  schedule stay eager: one-cycle moves SGD's momentum every step, and a captured SGD step would freeze it.
  **The last, smaller batch is padded** to the batch size with one extra all-zero sample labelled `ignore_index`, so
  the compiled code sees one shape only: one graph, one CUDA graph, no recompilation (the `recompile_limit` the old
  compiled path hit), static-shape kernels. `CrossEntropyLoss` leaves ignored samples out of the mean and out of the
  label smoothing, and `argmax == -100` never counts as correct, so the padded batch gives the loss, gradients and
  counts of the short one; it costs `B - N % B` extra rows per epoch (160 of 60,000 at batch 256). Marking the batch
  dimension dynamic (`torch._dynamo.mark_dynamic`) would also stop the recompiles, but with symbolic-shape kernels
  and, on CUDA, a second graph for the last batch.
- Compilation happens in warm-up steps before the timed epochs, whose effect (weights, optimizer state, schedule) is
  undone; their time is reported apart (`setup_s`).
"""
from __future__ import annotations
import copy, math, time
import torch
from mlp_nbdev.concise import make_net
from mlp_nbdev.recipes import get_recipe, make_trainer

MODES = ('eager', 'compile')
IGNORE = -100  # `CrossEntropyLoss`'s default `ignore_index`: the label of the padding sample

def recipe_dict(recipe='seed', **overrides)->dict:
    "`get_recipe(recipe, **overrides)`, None values ignored; the fast trainer's one limit checked."
    r = get_recipe(recipe, **{k: v for k, v in overrides.items() if v is not None})
    if r['dropout']:
        raise ValueError(f"the fast trainer runs recipes without dropout (its padded batch would draw masks for the "
                         f"padding sample too); got dropout={r['dropout']}.")
    return r

def device_data(root=None, device='cpu', limit:int|None=None):
    "Fashion-MNIST as `uint8` (N, 784) images and int64 labels on `device`: `(Xtr, ytr, Xte, yte)`."
    from mlp_nbdev.data import fashion_mnist_tensors
    out = []
    for train in (True, False):
        X, y = fashion_mnist_tensors(train, root)
        n = len(y) if limit is None else min(limit if train else max(limit // 6, 1), len(y))
        out += [X[:n].reshape(n, -1).contiguous().to(device), y[:n].to(device)]
    return tuple(out)

def _sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)

class FastMLP:
    "The one-hidden-layer MLP of a recipe, trained with the data on the device; `fit()` returns per-epoch records and timings."
    def __init__(self, data:tuple, # `(Xtr, ytr, Xte, yte)` from `device_data`, all on one device
                 recipe='seed', # a name in `RECIPES` or a recipe dict
                 num_epochs:int=10, num_hiddens:int=256, seed:int=0,
                 batch_size:int|None=None, lr:float|None=None, # override the recipe's
                 dtype=torch.float32, # float32, or bfloat16 (autocast of the forward pass)
                 mode:str='eager'): # 'eager' or 'compile'
        if mode not in MODES: raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        if dtype not in (torch.float32, torch.bfloat16): raise ValueError(f"dtype must be torch.float32 or torch.bfloat16, got {dtype!r}.")
        Xtr, ytr, self.Xte, self.yte = data
        self.device = dev = Xtr.device
        self.r = r = recipe_dict(recipe, batch_size=batch_size, lr=lr)
        self.num_epochs, self.dtype, self.mode = num_epochs, dtype, mode
        self.N, self.B = len(ytr), r['batch_size']
        self.nb = math.ceil(self.N / self.B)
        self.pad = self.nb * self.B - self.N if mode == 'compile' else 0
        if self.pad:  # one extra sample, all zeros, labelled IGNORE: the padding of the last batch points at it
            Xtr = torch.cat([Xtr, Xtr.new_zeros(1, Xtr.shape[1])]); ytr = torch.cat([ytr, ytr.new_full((1,), IGNORE)])
        self.Xtr, self.ytr = Xtr, ytr
        torch.manual_seed(seed)  # the project's own initialization, drawn as `run_recipe` draws it
        self.net = make_net('concise', num_hiddens, r['init'], r['normalize'], num_inputs=Xtr.shape[1]).to(dev)
        self.loss, self.opt, self.sched = make_trainer(self.net, r, num_epochs * self.nb)  # CrossEntropyLoss ignores IGNORE
        self.perm = torch.arange(self.N + self.pad, device=dev).clamp_(max=self.N)  # indices >= N: the padding sample
        self.gen = torch.Generator(device=dev).manual_seed(seed)
        self.loss_sum, self.correct = torch.zeros((), device=dev), torch.zeros((), dtype=torch.long, device=dev)
        self.test_correct = torch.zeros((), dtype=torch.long, device=dev)
        self.hist = torch.zeros(num_epochs, 3, device=dev)  # per epoch: loss sum, train correct, test correct
        self.loss_fn, self.setup_s, self.graphs = self._loss, 0., False

    def _logits(self, X):
        "Float32 scores of `uint8` rows, the forward pass in `self.dtype`."
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.dtype == torch.bfloat16):
            return self.net(X.float().div(255)).float()

    def _loss(self, X, y):
        "Mean loss over the samples not labelled IGNORE, and the scores."
        Y = self._logits(X)
        return self.loss(Y, y), Y

    def batch(self, j:int):
        "Indices of batch `j` of the current permutation, and how many of them are real samples."
        return self.perm[j * self.B:(j + 1) * self.B], min(self.B, self.N - j * self.B)

    def step(self, idx, n:int):
        "One training step on the samples `idx` (`n` of them real): torch's optimizer and schedule; no host sync."
        if self.graphs: torch.compiler.cudagraph_mark_step_begin()  # a new step: the last one's graph outputs may go
        X, y = self.Xtr.index_select(0, idx), self.ytr.index_select(0, idx)
        l, Y = self.loss_fn(X, y)
        with torch.no_grad():  # counted before the backward pass, while the forward graph's outputs are surely live
            self.loss_sum.add_(l.detach() * n); self.correct.add_((Y.argmax(1) == y).sum())
        self.opt.zero_grad()
        l.backward()
        self.opt.step()
        if self.sched is not None: self.sched.step()

    @torch.no_grad()
    def _evaluate(self, chunk=10000):
        self.test_correct.zero_()
        for i in range(0, len(self.yte), chunk):
            self.test_correct.add_((self._logits(self.Xte[i:i + chunk]).argmax(1) == self.yte[i:i + chunk]).sum())

    def _epoch(self):
        "Every step of one epoch over the current `self.perm`, then the test evaluation."
        self.loss_sum.zero_(); self.correct.zero_()
        for j in range(self.nb): self.step(*self.batch(j))
        self._evaluate()

    def _prepare(self):
        "Warm up (and compile) on the first and last batches, then undo the steps; returns the seconds it took."
        t0 = time.perf_counter()
        saved = [copy.deepcopy(o.state_dict()) for o in (self.net, self.opt, self.sched) if o is not None]
        if self.mode == 'compile':
            self.graphs = self.device.type == 'cuda'
            self.loss_fn = torch.compile(self._loss, mode='reduce-overhead' if self.graphs else None, dynamic=False)
        for j in (0, self.nb - 1, 0): self.step(*self.batch(j))  # CUDA graphs are recorded at the third call
        self._evaluate()
        for o, s in zip([o for o in (self.net, self.opt, self.sched) if o is not None], saved): o.load_state_dict(s)
        _sync(self.device)
        return time.perf_counter() - t0

    def fit(self)->dict:
        "Train for `num_epochs`: per-epoch records (read from the device once, at the end) and the timings."
        self.setup_s = self._prepare()
        secs = []
        for e in range(self.num_epochs):
            t0 = time.perf_counter()
            self.perm[:self.N] = torch.randperm(self.N, device=self.device, generator=self.gen)
            self._epoch()
            self.hist[e].copy_(torch.stack([self.loss_sum, self.correct.float(), self.test_correct.float()]))
            _sync(self.device)  # once per epoch, for the timing only
            secs.append(time.perf_counter() - t0)
        h, n_te = self.hist.tolist(), len(self.yte)  # the one read of the results
        records = [dict(epoch=e + 1, train_loss=l / self.N, train_acc=c / self.N, test_acc=tc / n_te, seconds=s)
                   for e, ((l, c, tc), s) in enumerate(zip(h, secs))]
        return dict(records=records, seconds=sum(secs), setup_s=self.setup_s, test_acc=records[-1]['test_acc'])
