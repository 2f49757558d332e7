"""Backbones with attention: the plugin ResNets of each codebase (imported lazily, see
:mod:`mm_cbam.models.lazy`)."""
