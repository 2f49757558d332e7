# The official CBAM module (Woo et al., ECCV 2018; Jongchan/attention-module) as an mm_cbam plugin
# config: channel MLP C -> C // 16 -> C over avg and max pooling (no lower bound on the width),
# spatial 7x7 convolution without bias followed by BatchNorm (eps 1e-5, momentum 0.01) whose
# weight starts at 0. Equal to mm_cbam.converters.OFFICIAL_CBAM (tested). Weights:
# tools/model_converters/cbam_official.py.
cbam_official = dict(type='CBAM', reduction=16, min_hidden=1,
                     sa_norm_cfg=dict(type='BN', eps=1e-5, momentum=0.01),
                     sa_norm_zero_init=True)
