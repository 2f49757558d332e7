# Shared by the shipped insert studies: the catalogue of variants, the stabilisers crossed with
# every placement, the calibration, the seeds and the test level. Study files set the rest.
_base_ = ['../../_base_/cbam_variants.py']
scenario = 'insert'
seeds = [0, 1, 2, 3, 4]
reference = 'baseline'
calibration = 'aa_null'  # attention inserted as an exact no-op in every placement at once
# crossed with every placement: the study's variants are '<placement>/<stabiliser>'
stabilisers = ['classic', 'residual_fixed', 'identity_start', 'alpha_warmup', 'temperature_2',
               'temperature_learnable', 'dynamic']
alpha = 0.05
