"""Bad input gets one clear line naming the argument or file (issue: inputs that passed
silently or failed unclearly)."""

import pytest

import mm_cbam  # noqa: F401
from mm_cbam.attention import CBAM


@pytest.mark.parametrize('residual', [False, True])
def test_alpha_init_must_be_a_number(residual):
    with pytest.raises(ValueError, match="alpha_init must be a number, got 'abc'"):
        CBAM(16, residual=residual, alpha_init='abc')


def test_alpha_init_without_residual_warns_that_it_does_nothing():
    with pytest.warns(UserWarning, match='alpha_init=0.5 has no effect without residual=True'):
        CBAM(16, alpha_init=0.5)


@pytest.mark.parametrize('option', ['residual', 'learnable_alpha', 'ca_bias', 'sa_bias',
                                    'learnable_temperature'])
def test_boolean_attention_options_reject_strings(option):
    with pytest.raises(ValueError, match=f"{option} must be True or False, got 'no'"):
        CBAM(16, **{option: 'no'})


def test_even_spatial_kernel_warns_and_says_what_is_used():
    with pytest.warns(UserWarning, match='sa_kernels: even kernel size 4 is used as 5'):
        module = CBAM(16, sa_kernels=(4, ))
    assert module.sa.kernels == (5, ) and module.sa.branches[0].kernel_size == (5, 5)


# ----------------------------------------------------------------------------- plugins
