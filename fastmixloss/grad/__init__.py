"""Gradients of the losses with respect to the estimate, for training.

    saved_size(loss, est_shape) -> int
        the length of the `saved` array that forward returns
    forward(loss, est, ref) -> (value, saved)
        value: exactly what loss(est, ref) returns; saved: a 1-D float64 NumPy array of
        what backward needs (the forward's per-row sums), so that backward never
        recomputes the forward
    backward(loss, est, ref, saved, grad_value) -> grad_est
        the gradient of sum(grad_value * value) with respect to est: same shape and dtype
        as est, where est lives (NumPy on the CPU, a Numba device array on a GPU, computed
        on the inputs' stream). grad_value: a float, or an array shaped like value.
    value_and_grad(loss, est, ref) -> (value, grad_est), with grad_value = 1
    one_pass(loss, est, ref) -> (value, grad_est) or None
        the same from one pass over the frames, where the loss has one (see below)

`loss` is a loss object: a time-domain face (grad/time.py), a spectral face or a preset
(grad/spectral.py). The feature metrics have no gradient.
"""

from .. import features
from ..errors import ParameterError
from ..presets import PresetLoss
from ..spectral import _SpectralLoss
from ..time_domain import _TimeLoss

# the feature metrics and loudness statistics (gating, medians, percentiles, peaks): not
# differentiable
_FEATURE_METRICS = (features.compare_features, features.feature_tracks,
                    features.integrated_loudness, features.loudness_stats,
                    features.compare_loudness, features.stereo_image,
                    features.diffmst_features, features.compare_diffmst)
_FEATURE_RESULTS = (features.FeatureComparison, features.LoudnessComparison,
                    features.LoudnessStats, features.StereoImage,
                    features.DiffMSTComparison)


def _part(loss):
    """The module computing `loss`'s gradient, imported on first use."""
    if isinstance(loss, _TimeLoss):
        from . import time
        return time
    if isinstance(loss, (_SpectralLoss, PresetLoss)):
        from . import spectral
        return spectral
    if (any(loss is metric for metric in _FEATURE_METRICS + _FEATURE_RESULTS)
            or isinstance(loss, _FEATURE_RESULTS)):
        raise ParameterError(
            f"the feature metrics have no gradient: loss={loss!r} is built on gating, "
            f"medians and percentiles; train with a time-domain or spectral loss")
    raise ParameterError(
        f"loss={loss!r} is not a fastmixloss loss object: pass one such as MSELoss(), "
        f"MultiResolutionSTFTLoss() or PresetLoss(name)")


def saved_size(loss, est_shape):
    """The length of the `saved` array forward(loss, est, ref) returns for est of this
    shape."""
    return _part(loss).saved_size(loss, tuple(est_shape))


def forward(loss, est, ref):
    """(value, saved): loss(est, ref) and what backward needs, a 1-D float64 array."""
    return _part(loss).forward(loss, est, ref)


def backward(loss, est, ref, saved, grad_value):
    """The gradient of sum(grad_value * value) with respect to est, shaped and typed as
    est, where est lives."""
    return _part(loss).backward(loss, est, ref, saved, grad_value)


def one_pass(loss, est, ref):
    """(value, gradient at grad_value = 1) from one pass over the signals where the loss
    has one (the plain spectral losses on the CPU, for signals of training-batch size:
    four transforms per frame instead of five), else None. The value is forward's and
    the gradient backward's, to rounding (about 1e-16 relative in float64). Gradients
    for another grad_value are this one scaled, item by item with reduction="none"."""
    part = _part(loss)
    return part.one_pass(loss, est, ref) if hasattr(part, "one_pass") else None


def value_and_grad(loss, est, ref):
    """(loss(est, ref), its gradient with respect to est): one_pass where the loss has
    it, else forward then backward."""
    done = one_pass(loss, est, ref)
    if done is not None:
        return done
    value, saved = forward(loss, est, ref)
    return value, backward(loss, est, ref, saved, 1.0)
