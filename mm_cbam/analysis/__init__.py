"""Analysis and benchmark tools (each runnable as ``python -m mm_cbam.analysis.<name>``): the
identity-start check, stability plots, attention overlays, Grad-CAM panels (``cam``), FLOPs and
parameters (``get_flops``), the GPU check and the benchmarks."""
