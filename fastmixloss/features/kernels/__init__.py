"""The mix features' CPU kernels (Numba): per-frame spectral shape, panning and dynamics
(frame_features), the K-weighted block energies of the loudness (block_energies), the
spectral contrast's band extremes (extremes), and the checks their plans pass first
(preconditions). The NumPy around them is in the features package's modules.

Imported on first use, not with the package: Numba loads only when a feature is
computed.
"""
