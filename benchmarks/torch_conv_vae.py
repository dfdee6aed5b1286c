"""The default conv β-VAE training step in PyTorch (CPU), as a yardstick for ours.

  /tmp/torchenv/bin/python benchmarks/torch_conv_vae.py --threads=2 --repeats=7

Not part of the project (no torch in requirements.txt, no test): the same architecture as
vae/models.py with experiments/configs/default.py (64×64×1 images, encoder conv 32, 32, 64, 64
4×4 stride 2 padding 1, Dense 256, Dense 2·10; decoder Dense 256, Dense 4·4·64, transposed convs
64, 32, 32, 1; Bernoulli likelihood on logits, β = 4, Adam 5e-4, batch 64). The batches are
random binary images drawn before timing (the cost does not depend on their content; ours
renders dSprites in-graph at ~450× the step's consumption). Prints one JSON line.
"""

import argparse
import json
import time

import torch
from torch import nn
import torch.nn.functional as F

_CHANNELS = (32, 32, 64, 64)
_HIDDEN = 256
_LATENTS = 10
_SIDE = 64


class ConvVAE(nn.Module):

  def __init__(self):
    super().__init__()
    ins = (1,) + _CHANNELS[:-1]
    self.encoder_convs = nn.ModuleList(nn.Conv2d(i, o, 4, 2, 1) for i, o in zip(ins, _CHANNELS))
    flat = _CHANNELS[-1] * (_SIDE // 16)**2
    self.encoder_dense = nn.Sequential(nn.Linear(flat, _HIDDEN), nn.ReLU(),
                                       nn.Linear(_HIDDEN, 2 * _LATENTS))
    self.decoder_dense = nn.Sequential(nn.Linear(_LATENTS, _HIDDEN), nn.ReLU(),
                                       nn.Linear(_HIDDEN, flat), nn.ReLU())
    outs = tuple(reversed(_CHANNELS[:-1])) + (1,)
    ins = (_CHANNELS[-1],) + outs[:-1]
    self.decoder_convs = nn.ModuleList(
        nn.ConvTranspose2d(i, o, 4, 2, 1) for i, o in zip(ins, outs))

  def forward(self, x):
    h = x
    for conv in self.encoder_convs:
      h = F.relu(conv(h))
    mean, logvar = self.encoder_dense(h.flatten(1)).chunk(2, dim=1)
    z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
    h = self.decoder_dense(z).view(-1, _CHANNELS[-1], _SIDE // 16, _SIDE // 16)
    for i, conv in enumerate(self.decoder_convs):
      h = conv(h)
      if i < len(self.decoder_convs) - 1:
        h = F.relu(h)
    return h, mean, logvar


def loss_fn(model, x, beta):
  logits, mean, logvar = model(x)
  recon = F.binary_cross_entropy_with_logits(logits, x, reduction='none').flatten(1).sum(1)
  kl = 0.5 * (mean**2 + logvar.exp() - 1 - logvar).sum(1)
  return (recon + beta * kl).mean()


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--threads', type=int, default=2)
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--window_steps', type=int, default=10, help='Steps per timed window.')
  parser.add_argument('--repeats', type=int, default=7, help='Timed windows; the fastest kept.')
  parser.add_argument('--channels_last', action='store_true', help='NHWC memory format.')
  args = parser.parse_args()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  fmt = torch.channels_last if args.channels_last else torch.contiguous_format
  model = ConvVAE().to(memory_format=fmt)
  optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
  batches = [(torch.rand(args.batch, 1, _SIDE, _SIDE) < 0.3).float().to(memory_format=fmt)
             for _ in range(args.window_steps)]

  def window():
    for x in batches:
      optimizer.zero_grad(set_to_none=True)
      loss_fn(model, x, 4.0).backward()
      optimizer.step()

  window()  # Warm-up.
  best = min(_timed(window) for _ in range(args.repeats))
  print(json.dumps({'case': 'torch_conv_vae', 'torch': torch.__version__,
                    'threads': args.threads, 'batch': args.batch,
                    'channels_last': args.channels_last,
                    'steps_per_s': args.window_steps / best}), flush=True)


def _timed(run):
  start = time.perf_counter()
  run()
  return time.perf_counter() - start


if __name__ == '__main__':
  main()
