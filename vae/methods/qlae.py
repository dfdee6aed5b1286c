"""QLAE (Hsu et al., NeurIPS 2023, "Disentanglement via Latent Quantization"): a deterministic
autoencoder whose code is quantized on a learned grid of values per latent (`vae.quantization`,
the model option `values_per_latent`), trained with

  recon + λ·P·(quantization + commitment)

and AdamW's decoupled weight decay on the encoder's and decoder's weights (never biases nor the
grids), their gradients clipped elementwise first, as the authors' code trains it.

Units. λ (the strength, `quantization_weight`) and the clip are per observed value, as the paper
and the authors' code state them: their reconstruction is a mean over the P values of an
observation (pixels × channels), this codebase's is summed nats, P times theirs. So the loss
weighs the two terms by λ·P and the optimizer clips at `gradient_clip`·P: the same objective as
the authors', P times larger, which Adam's and the decay's updates do not see. The authors'
defaults: λ = 0.01 (0.001 in their fixed dSprites config), 10 values per latent, decay 0.1, clip
1, learning rate 1e-3.

`grid_end_share` (logged) is the share of code entries on an end value of their grid: an
encoder that runs past its grids faster than Adam moves them (at most about the learning rate a
step) leaves a nearly binary code, which a small λ allows (BUILD_NOTES.md has the measurement).
"""

import dataclasses
import math

from vae import quantization
from vae import rules
from vae.methods import autoencoders
from vae.methods.method import Method
from vae.methods.method import Strength
from vae.methods.method import setting


@dataclasses.dataclass(frozen=True)
class QLAE(Method):
  """The quantized-latent autoencoder; see the module docstring."""

  name = 'qlae'
  strength = Strength('quantization_weight', 'λ', (0.001, 0.01, 0.1), 0.01)
  variational = False
  terms = ('quantization_loss', 'commitment_loss', 'grid_end_share')
  summary_terms = ('quantization_loss', 'grid_end_share')
  values_per_latent: int = setting(quantization.DEFAULT_VALUES_PER_LATENT,
                                   rules.Rule(lambda v: rules.is_int(v) and v >= 2,
                                              'an integer >= 2'))
  weight_decay: float = setting(quantization.DEFAULT_WEIGHT_DECAY, rules.FINITE_NON_NEGATIVE)
  gradient_clip: float = setting(quantization.DEFAULT_GRADIENT_CLIP, rules.FINITE_POSITIVE)

  @classmethod
  def model_options(cls, config) -> dict:
    return {'values_per_latent': config.get('values_per_latent',
                                            quantization.DEFAULT_VALUES_PER_LATENT)}

  def optimizer(self, learning_rate, observation_size):
    return quantization.qlae_optimizer(
        learning_rate, quantization.decay_mask, float(self.weight_decay),
        float(self.gradient_clip) * observation_size)

  def __call__(self, model, params, critic_params, x, key, strength, step):
    out = model.apply({'params': params}, x)
    recon = autoencoders.reconstruction(x, out['decoder_out'], model.likelihood)
    weight = quantization.weight_for_summed_recon(strength, math.prod(x.shape[1:]))
    loss, aux = quantization.qlae_objective(recon, out['quantization_loss'],
                                            out['commitment_loss'], weight, weight)
    end = quantization.end_share(out['indices'], params['quantizer']['values'])
    return loss, {**aux, 'quantization_weight': strength, 'grid_end_share': end}
