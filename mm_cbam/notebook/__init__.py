"""Parity with the specification notebook: every notebook class as an mm_cbam configuration
(:mod:`.classes`: configs, state_dict conversion, ``from_notebook``) and the notebook's literal
formulas (:mod:`.reference`, for tests and benchmarks). The math is written out in
``docs/notebook_math.md``; the class-by-class table is ``docs/notebook_parity.md``."""
from .classes import (NOTEBOOK_CLASSES, build_reference, convert_state_dict, from_notebook,
                      get_definition, notebook_config)

__all__ = ['NOTEBOOK_CLASSES', 'build_reference', 'convert_state_dict', 'from_notebook',
           'get_definition', 'notebook_config']
