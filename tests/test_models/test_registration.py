"""Registration: every module mm_cbam registers is found under its class name, the plugin
ResNets appear in a codebase's registry only when it is used, and the one function that uses
mmengine's private registry attributes still finds them."""
import subprocess
import sys

import pytest

import mm_cbam  # noqa: F401


def test_registered_names_are_the_class_names():
    from mmengine.registry import HOOKS, LOG_PROCESSORS, MODELS
    expected = {
        MODELS: ('CBAM', 'CBAMChannelAttention', 'CBAMSpatialAttention', 'CBAMNeck',
                 'InsertCBAM'),
        HOOKS: ('CBAMStabilityHook', 'CBAMAlphaWarmupHook', 'CBAMVisualizationHook',
                'RNGStateHook', 'FiniteCheckpointHook', 'NonFiniteStopHook'),
        LOG_PROCESSORS: ('CBAMLogProcessor', ),
    }
    for registry, names in expected.items():
        for name in names:
            found = registry.get(name)
            assert found is not None and found.__name__ == name, (registry.name, name)
            assert found.__module__.startswith('mm_cbam.'), found.__module__
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG
    for registry, names in ((DET, ('PluginResNet', 'PluginResNetV1d')),
                            (SEG, ('PluginResNet', 'PluginResNetV1c', 'PluginResNetV1d'))):
        for name in names:
            cls = registry.get(name)
            assert cls.__name__ == name and cls.__module__.startswith('mm_cbam.models.backbones')
    assert mm_cbam.AVAILABLE == {'cv2': True, 'mmcv': True, 'mmdet': True, 'mmseg': True}


@pytest.mark.slow
def test_a_codebase_is_imported_only_when_its_registry_is_used():
    code = ('import sys, mm_cbam\n'
            'assert "mmdet.models" not in sys.modules and "mmseg.models" not in sys.modules\n'
            'from mmdet.registry import MODELS\n'
            'assert MODELS.get("PluginResNet") is not None\n'
            'print("mmseg.models" in sys.modules, "mm_cbam.models.backbones.mmseg_resnet" in '
            'sys.modules)\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ['False', 'False']


def test_lazy_registration_still_matches_mmengine(tmp_path, monkeypatch):
    """register_when_used relies on Registry._imported and Registry._locations: if mmengine
    renames them or stops importing locations on first use, this fails here, not as a silently
    missing PluginResNet."""
    from mm_cbam.models.lazy import register_when_used
    (tmp_path / 'probe_pkg').mkdir()
    (tmp_path / 'probe_pkg' / '__init__.py').write_text('')
    (tmp_path / 'probe_pkg' / 'registry.py').write_text(
        'from mmengine.registry import Registry\nMODELS = Registry("probe", locations=[])\n')
    (tmp_path / 'probe_target.py').write_text(
        'from probe_pkg.registry import MODELS\n\n\n@MODELS.register_module()\n'
        'class ProbeModule:\n    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        from probe_pkg.registry import MODELS
        assert isinstance(MODELS._imported, bool) and isinstance(MODELS._locations, list)
        register_when_used('probe_pkg', 'probe_target')
        assert MODELS._locations == ['probe_target'] and 'probe_target' not in sys.modules
        assert MODELS.get('ProbeModule').__name__ == 'ProbeModule'  # imported on first use
        assert 'probe_target' in sys.modules and MODELS._imported
        register_when_used('probe_pkg', 'probe_target')  # already used: imported at once
        assert MODELS._locations == ['probe_target']
    finally:
        for name in ('probe_pkg', 'probe_pkg.registry', 'probe_target'):
            sys.modules.pop(name, None)
