"""Analysis and benchmark tools (each runnable as ``python -m mm_cbam.analysis.<name>``): the
identity-start check, stability plots, attention overlays, the GPU check and the benchmarks."""
