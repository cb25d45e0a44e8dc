import pytest

from hsframe.errors import HsframeError
from hsframe.tracking import DEFAULT_URI, load_settings


def test_settings_precedence(tmp_path, monkeypatch):
    f = tmp_path / "mlflow.yml"
    f.write_text("tracking_uri: sqlite:///from_file.db\nexperiment: mine\n")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert load_settings(tmp_path / "absent.yml").tracking_uri == DEFAULT_URI
    s = load_settings(f)
    assert (s.tracking_uri, s.experiment) == ("sqlite:///from_file.db", "mine")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///from_env.db")
    assert load_settings(f).tracking_uri == "sqlite:///from_env.db"
    assert load_settings(f, uri="sqlite:///explicit.db").tracking_uri == "sqlite:///explicit.db"


def test_repo_mlflow_yml_uses_sqlite_not_the_file_store(monkeypatch):
    from pathlib import Path

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    s = load_settings(Path(__file__).resolve().parents[1] / "mlflow.yml")
    assert s.tracking_uri == "sqlite:///mlflow.db" and s.experiment == "hsframe"


def test_unknown_key_in_settings(tmp_path):
    f = tmp_path / "mlflow.yml"
    f.write_text("tracking_url: sqlite:///x.db\n")
    with pytest.raises(HsframeError, match=r"unknown key\(s\) \['tracking_url'\]"):
        load_settings(f)
    f.write_text("- a list\n")
    with pytest.raises(HsframeError, match="must hold a mapping"):
        load_settings(f)
