"""GPU-style training of the one-hidden-layer MLP for `bench/run.py`: the same recipes as `mlp_nbdev.concise.RECIPES`,
written for a device that must never wait for the host.

- The data stays on the device as `uint8` (N, 784); a batch is an `index_select` of a permutation made on the device,
  converted to float (or bf16) and scaled, input normalization folded into that scale.
- Parameters, gradients and optimizer state each live in one flat buffer (`W1`, `b1`, `W2`, `b2` are views), so an
  SGD or AdamW step is a handful of kernels whatever the number of layers. Per-step learning rates (one-cycle) and
  Adam's bias corrections are read from tables on the device, indexed by a step counter on the device.
- Loss and accuracy are summed on the device; the host reads them once, after the last epoch.
- `backward='manual'` writes the backward pass out (softmax minus target, two matrix products per layer, no input
  gradient for the first layer); `'autograd'` lets `torch.autograd.grad` do it. Both give the same gradients.
- `mode`: `'eager'`; `'graph'` captures one whole epoch (all steps and the test evaluation) as one CUDA graph and
  replays it (CUDA only); `'compile'` wraps the step in `torch.compile` (`mode='reduce-overhead'` on CUDA, which
  adds CUDA graphs). Capture or compile happens in a warm-up epoch whose effect on the state is undone; its time is
  reported separately (`setup_s`; for `'eager'`, two warm-up steps).

Every mode runs the same `_step` code, so the CPU tests of `eager` check what `graph` and `compile` replay.
"""
from __future__ import annotations
import math, time
import torch
import torch.nn.functional as F
from torch import nn
from mlp_nbdev.concise import RECIPES, FASHION_MNIST_MEAN, FASHION_MNIST_STD, make_net, make_trainer

MODES = ('eager', 'graph', 'compile')
BACKWARDS = ('manual', 'autograd')

def recipe_dict(recipe='seed', **overrides)->dict:
    "A recipe of `RECIPES` (or a dict), completed by the seed recipe's keys, with `overrides` (None values ignored)."
    r = {**RECIPES['seed'], **(RECIPES[recipe] if isinstance(recipe, str) else recipe)}
    r.update({k: v for k, v in overrides.items() if v is not None})
    if r['optimizer'] not in ('sgd', 'nesterov', 'adamw') or r['dropout']:
        raise ValueError(f"the fast trainer supports optimizers 'sgd', 'nesterov' and 'adamw', without dropout; got "
                         f"optimizer={r['optimizer']!r}, dropout={r['dropout']}.")
    return r

def schedule_tables(r:dict, total_steps:int)->dict:
    """Per step: the learning rate and the momentum (SGD's, or Adam's beta1) the recipe's torch optimizer and scheduler
    would use (one-cycle cycles the momentum too)."""
    opt, sched = make_trainer(nn.Linear(1, 1), r['optimizer'], r['lr'], r['momentum'], r['weight_decay'], r['schedule'], total_steps)
    g, lrs, b1s = opt.param_groups[0], [], []
    for _ in range(total_steps):
        lrs.append(g['lr']); b1s.append(g['betas'][0] if 'betas' in g else g.get('momentum', 0.))
        opt.step()
        if sched is not None: sched.step()
    return dict(lr=lrs, beta1=b1s, beta2=g.get('betas', (0., 0.))[1], eps=g.get('eps', 0.), nesterov=g.get('nesterov', False))

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
    "One-hidden-layer MLP trainer with the state on the device; `fit()` returns per-epoch records and timings."
    def __init__(self, data:tuple, # `(Xtr, ytr, Xte, yte)` from `device_data`, all on one device
                 recipe='seed', # a name in `RECIPES` or a recipe dict
                 num_epochs:int=10, num_hiddens:int=256, seed:int=0,
                 batch_size:int|None=None, lr:float|None=None, # override the recipe's
                 dtype=torch.float32, # compute dtype of the matrix products: float32 or bfloat16
                 backward:str='manual', mode:str='eager'):
        if mode not in MODES: raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        if backward not in BACKWARDS: raise ValueError(f"backward must be one of {BACKWARDS}, got {backward!r}.")
        self.Xtr, self.ytr, self.Xte, self.yte = data
        self.device = dev = self.Xtr.device
        if mode == 'graph' and dev.type != 'cuda': raise ValueError("mode='graph' captures CUDA graphs: it needs a CUDA device.")
        self.r = r = recipe_dict(recipe, batch_size=batch_size, lr=lr)
        self.num_epochs, self.dtype, self.backward, self.mode = num_epochs, dtype, backward, mode
        self.B, N = r['batch_size'], len(self.ytr)
        self.nb = math.ceil(N / self.B)
        torch.manual_seed(seed)  # the project's own initialization, drawn as `run_recipe` draws it
        net = make_net('concise', num_hiddens, r['init'], normalize=False, num_inputs=self.Xtr.shape[1])
        lin = [m for m in net.modules() if isinstance(m, nn.Linear)]
        shapes = [lin[0].weight.shape, lin[0].bias.shape, lin[1].weight.shape, lin[1].bias.shape]
        self.P = torch.cat([t.detach().reshape(-1) for l in lin for t in (l.weight, l.bias)]).to(dev)
        self.G = torch.zeros_like(self.P)
        self.shapes = shapes
        self.W1, self.b1, self.W2, self.b2 = self._views(self.P, shapes)
        self.gW1, self.gb1, self.gW2, self.gb2 = self._views(self.G, shapes)
        std, mean = (FASHION_MNIST_STD, FASHION_MNIST_MEAN) if r['normalize'] else (1., 0.)
        self.scale, self.shift = 1 / (255 * std), -mean / std
        self.K, self.eps_ls = shapes[2][0], r['label_smoothing']
        total = num_epochs * self.nb
        tab = schedule_tables(r, total)
        pad = 2 * self.nb  # warm-up epochs step the counter too (their effect is undone): keep their reads in range
        tab['lr'] += tab['lr'][-1:] * pad; tab['beta1'] += tab['beta1'][-1:] * pad
        total += pad
        self.nesterov = tab['nesterov']
        self.const_lr = r['optimizer'] != 'adamw' and r['schedule'] is None and not any(tab['beta1'])
        if r['optimizer'] == 'adamw':
            b1, b2, k = torch.tensor(tab['beta1'], dtype=torch.float64), tab['beta2'], torch.arange(1, total + 1, dtype=torch.float64)
            lr = torch.tensor(tab['lr'], dtype=torch.float64)
            self.beta2, self.eps = b2, tab['eps']
            self.tab = torch.stack([1 - lr * r['weight_decay'],          # decoupled weight decay factor
                                    1 - b1,                               # lerp weight of the first moment
                                    lr / (1 - b1 ** k),                   # step size (lr / bias correction 1)
                                    torch.sqrt(1 - b2 ** k)]).T.float().contiguous().to(dev)  # sqrt(bias correction 2)
            self.m, self.v = torch.zeros_like(self.P), torch.zeros_like(self.P)
        else:  # SGD: learning rate and momentum per step; the momentum buffer starts at 0, so its first value is the gradient
            self.tab = torch.tensor([tab['lr'], tab['beta1']], dtype=torch.float32).T.contiguous().to(dev)
            if any(tab['beta1']): self.m = torch.zeros_like(self.P)
        self.lr0 = tab['lr'][0]
        self.t = torch.zeros(1, dtype=torch.long, device=dev)  # optimizer steps taken, on the device
        self.perm = torch.arange(N, device=dev)
        self.gen = torch.Generator(device=dev).manual_seed(seed)
        self.loss_sum = torch.zeros((), device=dev); self.correct = torch.zeros((), dtype=torch.long, device=dev)
        self.test_correct = torch.zeros((), dtype=torch.long, device=dev)
        self.hist = torch.zeros(num_epochs, 3, device=dev)  # per epoch: loss sum, train correct, test correct
        if backward == 'autograd': self.P.requires_grad_()
        self.step = self._step
        self.setup_s, self.graph = 0., None

    @staticmethod
    def _views(buf, shapes):
        out, i = [], 0
        for s in shapes:
            n = math.prod(s); out.append(buf[i:i + n].view(s)); i += n
        return out

    def _prep(self, X):
        "`uint8` rows to the compute dtype, scaled (and normalized)."
        X = X.to(self.dtype).mul_(self.scale)
        return X.add_(self.shift) if self.shift else X

    def _forward(self, X, params=None):
        "Hidden activations and float32 logits; the products in `self.dtype`."
        W1, b1, W2, b2 = [t.to(self.dtype) for t in (params or (self.W1, self.b1, self.W2, self.b2))]
        H = torch.addmm(b1, X, W1.t()).relu()
        return H, torch.addmm(b2, H, W2.t()).float()

    def _target(self, y):
        "Smoothed one-hot targets; by `scatter_`, as `F.one_hot` reads the labels back to the host to check them."
        T = torch.zeros(len(y), self.K, device=y.device).scatter_(1, y.unsqueeze(1), 1.)
        return T.mul_(1 - self.eps_ls).add_(self.eps_ls / self.K) if self.eps_ls else T

    def _grads_manual(self, X, y):
        "Loss sum, logits, and the mean loss's gradients written into `self.G`."
        H, Y = self._forward(X)
        logp, T = Y.log_softmax(1), self._target(y)
        lsum = -(T * logp).sum()
        dY = logp.exp_().sub_(T).div_(len(y)).to(self.dtype)
        self.gW2.copy_(dY.t() @ H); self.gb2.copy_(dY.sum(0))
        dH = torch.ops.aten.threshold_backward(dY @ self.W2.to(self.dtype), H, 0)  # ReLU's backward, as autograd's
        self.gW1.copy_(dH.t() @ X); self.gb1.copy_(dH.sum(0))        # no gradient for the input X
        return lsum, Y

    def _grads_autograd(self, X, y):
        with torch.enable_grad():
            _, Y = self._forward(X, self._views(self.P, self.shapes))
            T = self._target(y)
            lsum = -(T * Y.log_softmax(1)).sum()
            (g,) = torch.autograd.grad(lsum / len(y), [self.P])
        self.G.copy_(g)
        return lsum.detach(), Y.detach()

    @torch.no_grad()
    def _update(self):
        row = self.tab.index_select(0, self.t).squeeze(0)
        if self.r['optimizer'] != 'adamw':  # SGD, as torch.optim.SGD computes it (dampening 0)
            if self.r['weight_decay']: self.G.add_(self.P, alpha=self.r['weight_decay'])
            if self.const_lr: self.P.sub_(self.G, alpha=self.lr0)
            else:
                upd = self.G
                if hasattr(self, 'm'):
                    self.m.mul_(row[1]).add_(self.G)
                    upd = self.G + self.m * row[1] if self.nesterov else self.m
                self.P.sub_(upd * row[0])
        else:  # AdamW, as torch.optim.AdamW computes it
            self.P.mul_(row[0])
            self.m.lerp_(self.G, row[1])
            self.v.mul_(self.beta2).addcmul_(self.G, self.G, value=1 - self.beta2)
            self.P.sub_(self.m / (self.v.sqrt() / row[3]).add_(self.eps) * row[2])
        self.t.add_(1)

    @torch.no_grad()
    def _step(self, idx):
        "One training step on the samples `idx`: no host sync."
        X, y = self._prep(self.Xtr.index_select(0, idx)), self.ytr.index_select(0, idx)
        lsum, Y = (self._grads_manual if self.backward == 'manual' else self._grads_autograd)(X, y)
        self.loss_sum.add_(lsum); self.correct.add_((Y.argmax(1) == y).sum())
        self._update()

    @torch.no_grad()
    def _evaluate(self, chunk=10000):
        self.test_correct.zero_()
        for i in range(0, len(self.yte), chunk):
            _, Y = self._forward(self._prep(self.Xte[i:i + chunk]))
            self.test_correct.add_((Y.argmax(1) == self.yte[i:i + chunk]).sum())

    def _epoch_body(self):
        "Every step of one epoch over the current `self.perm`, then the test evaluation: what a CUDA graph captures."
        self.loss_sum.zero_(); self.correct.zero_()
        for j in range(self.nb): self.step(self.perm[j * self.B:(j + 1) * self.B])
        self._evaluate()

    def _state(self): return [t for t in (self.P, self.G, self.t, getattr(self, 'm', None), getattr(self, 'v', None)) if t is not None]

    def _prepare(self):
        "Warm up (eager: two steps; compile or capture: one epoch), then put the state back; returns the seconds it took."
        t0 = time.perf_counter()
        saved = [t.detach().clone() for t in self._state()]
        if self.mode == 'eager':
            for j in (0, self.nb - 1): self.step(self.perm[j * self.B:(j + 1) * self.B])  # first calls of every kernel
        elif self.mode == 'compile':
            cuda = self.device.type == 'cuda'
            for t in self._state(): torch._dynamo.mark_static_address(t)
            self.step = torch.compile(self._step, mode='reduce-overhead' if cuda else None, dynamic=False)
            self._epoch_body(); self._epoch_body()  # the second call records the CUDA graphs (reduce-overhead)
        else:
            s = torch.cuda.Stream(self.device); s.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(s): self._epoch_body()  # warm up cuBLAS and the allocator off the capture
            torch.cuda.current_stream(self.device).wait_stream(s)
            with torch.no_grad():
                for t, v in zip(self._state(), saved): t.copy_(v)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph): self._epoch_body()
        with torch.no_grad():
            for t, v in zip(self._state(), saved): t.copy_(v)
        _sync(self.device)
        return time.perf_counter() - t0

    def fit(self)->dict:
        "Train for `num_epochs`: per-epoch records (read from the device once, at the end) and the timings."
        self.setup_s = self._prepare()
        N, n_te, secs = len(self.ytr), len(self.yte), []
        _sync(self.device)
        for e in range(self.num_epochs):
            t0 = time.perf_counter()
            self.perm.copy_(torch.randperm(N, device=self.device, generator=self.gen))
            if self.graph is not None: self.graph.replay()
            else: self._epoch_body()
            self.hist[e].copy_(torch.stack([self.loss_sum, self.correct.float(), self.test_correct.float()]))
            _sync(self.device)  # once per epoch, for the timing only
            secs.append(time.perf_counter() - t0)
        h = self.hist.tolist()  # the one read of the results
        records = [dict(epoch=e + 1, train_loss=l / N, train_acc=c / N, test_acc=tc / n_te, seconds=s)
                   for e, ((l, c, tc), s) in enumerate(zip(h, secs))]
        return dict(records=records, seconds=sum(secs), setup_s=self.setup_s, test_acc=records[-1]['test_acc'])
