"""The package as hsframe sees it: discovered through the entry point, torch-free at import, valid defaults."""
import subprocess
import sys

import hsframe_volumetric

NAMES = ["conv3d", "td_conv2d", "conv3d_133", "r2plus1d", "orthoplane"]


def test_discovered_through_entry_point():
    from hsframe.plugins import load_plugins

    plugins = load_plugins()
    assert plugins.model("td_conv2d").package == "hsframe-volumetric"
    for name in NAMES:
        spec = plugins.model(name)
        assert spec.plugin == "volumetric" and spec.package == "hsframe-volumetric"
        assert spec.data_kinds == ("hsi", "volume", "sequence") and spec.description
        assert spec.defaults == hsframe_volumetric.DEFAULTS
    assert sorted(plugins.info["volumetric"].models) == sorted(NAMES)
    assert not [p for p in plugins.problems if p.package == "hsframe-volumetric"]


def test_plugin_api_and_defaults_are_valid_config():
    from hsframe.config import build_config, valid_keys
    from hsframe.plugins import load_plugins
    from hsframe.registry import DATA_KINDS

    assert hsframe_volumetric.HSFRAME_PLUGIN_API == 1
    assert set(hsframe_volumetric.DATA_KINDS) == set(DATA_KINDS)
    assert set(hsframe_volumetric.DEFAULTS) <= set(valid_keys())
    assert hsframe_volumetric.DEFAULTS["data.patch_size"] % 2 == 1  # the framework wants odd patches
    cfg = build_config(load_plugins(), "td_conv2d")
    assert (cfg.data.patch_size, cfg.data.pca_components, cfg.train.epochs) == (11, 15, 15)


def test_importing_the_plugin_does_not_import_torch():
    code = "import sys, hsframe_volumetric; hsframe_volumetric.MODELS; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
