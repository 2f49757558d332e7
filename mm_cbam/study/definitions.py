"""The definitions the study report prints under its results table (one place for the wording
of every column)."""

DEFINITIONS = """Mean ± sd over seeds. **Δ** is the paired difference to `{ref}` (same seed:
same batches, proposal sampling and dropout, and the same starting weights), with Holm step-down
intervals at family-wise level {alpha} across the variants (an interval excludes 0 exactly when
Holm rejects; tied p-values share a level); final, damage@0 and end-of-warm-up are separate
families. **bootstrap 95 %**: percentile interval of the seed-mean difference over {bootstrap}
resamples of the validation images (it varies the images for these trained models, not the
training: it is not the uncertainty of the comparison). **verdict**: identical (every paired
difference exactly 0: true by construction, e.g. alpha 0 at insertion; not tested), lower /
higher (Holm-adjusted p < {alpha}), equivalent (TOST with margin ±{margin}, Holm-adjusted p <
{alpha}), otherwise inconclusive. Metrics are recomputed exactly from the dumped predictions
(pycocotools' COCOeval / summed IoU areas), not from the rounded log. **damage@0**: the
validation before the first fine-tuning step (and, for a warm-up, at its end). **Δ AP s / m /
l**: `-` where the validation set has no objects of that size. **shock**: mean over the first
{shock_iters} iterations of the variant's loss (and of each term) over the reference's, minus 1
(signed, and mean |·|). **recovery**: the first iteration after which the ratio of the
variant's to the reference's loss, each summed over the last {recovery_window} logged
iterations, stays within {recovery_tol:.0%} for the total loss and every compared term; never =
still outside at the end. **spikes vs ref**: the rate of sudden loss
spikes (> {spike_factor}x the median of the previous {spike_window} logged losses) relative to
`{ref}`'s; a shock that starts at insertion and persists is not a spike. **collapsed masks**:
modules whose mask saturation stayed above 0.95 for 3 logs (first iteration; stuck near 0 or
near 1; with alpha 0 the masks have no effect). **final alpha / T** and **contribution**
(‖out − x‖ / ‖x‖, what the attention changes) per stage at the last log; `:out` = attention on
the stage's output. **grad-norm peak**: the logged total gradient norm with gradient clipping,
else the largest attention-module gradient norm. **added params**: trainable parameters the
attention adds (the calibration's get zero gradients). **time / iter**: measured while other
runs shared the cores: not a cost measurement (costs: `python -m
mm_cbam.analysis.benchmark_model`)."""
