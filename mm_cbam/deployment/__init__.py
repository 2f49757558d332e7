"""From experiment to use: export to ONNX / TorchScript (:mod:`.export`, over the exportable
parts of :mod:`.wrappers`) and removal of attention that does nothing (:mod:`.fold`), each
runnable as ``python -m mm_cbam.deployment.<name>``. Models are loaded by :mod:`.loading`
(weights-only checkpoints, strict keys)."""
