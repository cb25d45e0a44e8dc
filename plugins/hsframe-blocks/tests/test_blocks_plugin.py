"""The package as hsframe sees it: discovered through the entry point, torch-free at import."""
import subprocess
import sys

import hsframe_blocks

NAMES = ["dsconv_net", "mobilenet_v2", "spectral_1x1", "spectral_1d", "nin", "dilated_cnn", "baseline_cnn"]


def test_discovered_through_entry_point():
    from hsframe.plugins import load_plugins

    plugins = load_plugins()
    assert plugins.model("dsconv_net").package == "hsframe-blocks"
    for name in NAMES:
        spec = plugins.model(name)
        assert spec.plugin == "blocks" and spec.package == "hsframe-blocks"
        assert spec.data_kinds == ("hsi",) and spec.description
        assert spec.defaults == hsframe_blocks.DEFAULTS
    assert sorted(plugins.info["blocks"].models) == sorted(NAMES)
    assert not [p for p in plugins.problems if p.package == "hsframe-blocks"]


def test_plugin_api_and_defaults_are_valid_config():
    from hsframe.config import valid_keys

    assert hsframe_blocks.HSFRAME_PLUGIN_API == 1
    assert set(hsframe_blocks.DEFAULTS) <= set(valid_keys())
    assert hsframe_blocks.DEFAULTS["data.patch_size"] % 2 == 1  # the framework wants odd patches


def test_importing_the_plugin_does_not_import_torch():
    code = "import sys, hsframe_blocks; hsframe_blocks.MODELS; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
