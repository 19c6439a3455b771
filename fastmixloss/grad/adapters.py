"""What the training adapters (fastmixloss.torch, fastmixloss.jax) share: the faces they
mirror, a loss built from a face's arguments with the shape of its value, and one key per
configuration, so that both build each distinct loss once and give it the same name.
"""

import hashlib
import inspect
import itertools
import pickle
import threading

from .. import presets, spectral, time_domain
from .. import validation as check
from ..errors import ParameterError

# The NumPy faces the adapters mirror: class name -> class; function name -> class name.
TIME_CLASSES = ("MSELoss", "L1Loss", "ESRLoss", "DCLoss", "LogCoshLoss", "SNRLoss",
                "SISDRLoss", "SDSDRLoss")
SPECTRAL_CLASSES = ("STFTLoss", "MultiResolutionSTFTLoss", "SumAndDifferenceSTFTLoss",
                    "MelSTFTLoss", "ChromaSTFTLoss", "RandomResolutionSTFTLoss")
FACES = {**{name: getattr(time_domain, name) for name in TIME_CLASSES},
         **{name: getattr(spectral, name) for name in SPECTRAL_CLASSES},
         "PresetLoss": presets.PresetLoss}
FUNCTIONS = {"mse": "MSELoss", "l1": "L1Loss", "esr": "ESRLoss", "dc": "DCLoss",
             "logcosh": "LogCoshLoss", "snr": "SNRLoss", "sisdr": "SISDRLoss",
             "sdsdr": "SDSDRLoss", "stft_loss": "STFTLoss",
             "mrstft_loss": "MultiResolutionSTFTLoss",
             "sum_and_difference_loss": "SumAndDifferenceSTFTLoss"}
# faces whose object changes as it is called (it redraws): never shared
STATEFUL = ("RandomResolutionSTFTLoss",)


def numpy_function(name):
    """The NumPy API's function form `name` (mse, ..., sum_and_difference_loss)."""
    return getattr(time_domain, name, None) or getattr(spectral, name)


class Built:
    """A loss built for an adapter: the NumPy loss object, its key, and what the shape of
    its value depends on."""

    __slots__ = ("loss", "key", "reduction", "per_channel")

    def __init__(self, loss, key, reduction, per_channel):
        self.loss = loss
        self.key = key
        self.reduction = reduction
        self.per_channel = per_channel   # a time-domain compat="auraloss" loss: (B, C)

    def value_shape(self, est_shape):
        """The shape of loss(est, ref) for est of `est_shape`."""
        if self.reduction != "none":
            return ()
        items = int(est_shape[0]) if len(est_shape) == 3 else 1
        return (items, int(est_shape[1])) if self.per_channel else (items,)


def _settings(adapter, name, args, kwargs):
    """The face's arguments by name, defaults filled in, its **kwargs merged in."""
    face = FACES[name]
    signature = inspect.signature(face)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        raise ParameterError(f"{adapter}.{name}: {error}") from None
    bound.apply_defaults()
    settings = dict(bound.arguments)
    for parameter in signature.parameters.values():
        if parameter.kind == parameter.VAR_KEYWORD:
            settings.update(settings.pop(parameter.name, {}))
    return settings


_NOT_PLAIN = object()


def _plain(value):
    """value as a canonical plain value (lists as tuples), or _NOT_PLAIN (an array, a
    generator object)."""
    if isinstance(value, (list, tuple)):
        items = tuple(_plain(v) for v in value)
        return _NOT_PLAIN if any(i is _NOT_PLAIN for i in items) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return _NOT_PLAIN


def config_key(adapter, name, args, kwargs):
    """One string per configuration of face `name`: its arguments that differ from their
    defaults, readable where they are plain values, else a digest of them (windows given
    as arrays)."""
    settings = _settings(adapter, name, args, kwargs)
    defaults = {n: p.default for n, p in inspect.signature(FACES[name]).parameters.items()}
    changed = {n: v for n, v in settings.items()
               if n not in defaults or _plain(v) is _NOT_PLAIN
               or repr(_plain(v)) != repr(_plain(defaults[n]))}
    if all(_plain(v) is not _NOT_PLAIN for v in changed.values()):
        words = ", ".join(f"{n}={_plain(v)!r}" for n, v in sorted(changed.items()))
        return f"{name}({words})"
    digest = hashlib.sha256(pickle.dumps(sorted(changed.items()))).hexdigest()
    return f"{name}#{digest[:24]}"


def build(adapter, name, args, kwargs, key=None):
    """Built for face `name` called with (args, kwargs) (host values: NumPy arrays, not
    tensors); `key` names it (default config_key). `adapter` names the caller in
    messages. output="full" is refused: the adapters return values only."""
    settings = _settings(adapter, name, args, kwargs)
    output = settings.get("output", "loss")
    if output != "loss":
        raise ParameterError(
            f"output={output!r}: {adapter} returns the loss as an array; the breakdowns "
            f"(output='full') are the NumPy API's (fastmixloss.{name})")
    loss = FACES[name](*args, **kwargs)
    return Built(loss, config_key(adapter, name, args, kwargs) if key is None else key,
                 settings.get("reduction", "mean"),
                 name in TIME_CLASSES and settings.get("compat") == "auraloss")


class Registry:
    """An adapter's losses by key: each configuration built once, found again by its key
    (a stateful face: one per build, with a key of its own). `wrap(built)` is what the
    adapter keeps of a Built (default: the Built itself)."""

    def __init__(self, adapter, wrap=None):
        self.adapter = adapter
        self._wrap = wrap or (lambda built: built)
        self._entries = {}
        self._lock = threading.Lock()
        self._instances = itertools.count()

    def get(self, name, args, kwargs):
        """(key, entry) of face `name` built with (args, kwargs): host values (NumPy
        arrays, not tensors)."""
        if name in STATEFUL:
            key = f"{name}@{next(self._instances)}"
        else:
            key = config_key(self.adapter, name, args, kwargs)
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            entry = self._wrap(build(self.adapter, name, args, kwargs, key))
            with self._lock:
                entry = self._entries.setdefault(key, entry)
        return key, entry

    def __getitem__(self, key):
        try:
            return self._entries[key]
        except KeyError:
            raise ParameterError(
                f"no fastmixloss loss is registered as {key!r} in this process: build the "
                f"loss here (its class or function form) before running a graph that "
                f"uses it") from None


def generate(namespace, adapter, base, call, takes, returns):
    """Fill `namespace` (an adapter module's globals) with the NumPy API's faces: a class
    per face, a subclass of `base` whose `_face` names it (base.__init__(*args, **kwargs)
    builds it), and a function per function form, call(face_name, kwargs, est, ref) ->
    value; and preset_loss. Each has the NumPy face's signature and documentation.
    `takes`: what est and ref are, for the documentation ("tensors"); `returns`: the
    functions' return annotation."""
    for name, face in FACES.items():
        def __init__(self, *args, **kwargs):
            base.__init__(self, *args, **kwargs)
        # help() and inspect.signature show the NumPy face's parameters
        __init__.__signature__ = inspect.signature(face.__init__)
        doc = (f"fastmixloss.{name} on {takes}: call with (est, ref) for its value, "
               f"differentiable in est.\n\n{inspect.getdoc(face) or ''}")
        namespace[name] = type(name, (base,), {
            "_face": name, "__init__": __init__, "__doc__": doc,
            "__module__": namespace["__name__"], "__qualname__": name})
    for name, face_name in FUNCTIONS.items():
        namespace[name] = _function(adapter, name, face_name, call, takes, returns)
    preset_class = namespace["PresetLoss"]

    def preset_loss(name, **kwargs):
        return preset_class(name, **kwargs)
    preset_loss.__signature__ = inspect.signature(presets.preset_loss).replace(
        return_annotation=preset_class)
    preset_loss.__doc__ = (f"The named preset (a key of PRESETS) as a loss on {takes}: "
                           f"PresetLoss(name, **kwargs).")
    preset_loss.__module__ = namespace["__name__"]
    namespace["preset_loss"] = preset_loss


def _function(adapter, name, face_name, call, takes, returns):
    numpy_face = numpy_function(name)
    signature = inspect.signature(numpy_face)

    @check.keywords_checked(f"{adapter}.{name}", frozenset(signature.parameters))
    def loss(est, ref, **kwargs):
        return call(face_name, kwargs, est, ref)
    loss.__signature__ = signature.replace(return_annotation=returns)
    loss.__name__ = loss.__qualname__ = name
    loss.__doc__ = (f"fastmixloss.{name} on {takes}, differentiable in est: "
                    f"{face_name}(**kwargs)(est, ref).\n\n{inspect.getdoc(numpy_face) or ''}")
    return loss
