"""The exceptions fastmixloss raises."""


class FastMixLossError(Exception):
    """Base class of every error raised by fastmixloss."""


class ParameterError(FastMixLossError, ValueError):
    """A bad argument or input signal. The message names the argument and its value."""


class DeviceError(FastMixLossError, RuntimeError):
    """A requested compute device cannot be used; the message says why."""


class KeywordError(ParameterError, TypeError):
    """An unknown keyword argument. A TypeError, as Python raises for one, and a
    ParameterError, as fastmixloss raises for every bad argument."""
