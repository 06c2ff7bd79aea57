import yaml

from residual_pitfalls.provenance import package_versions, write_provenance


def test_provenance_records_config_and_versions(tmp_path):
    path = tmp_path / "provenance.yaml"
    write_provenance(path, {"dataset": "synthetic", "grid": {"sigma": {"num": 3}}})
    record = yaml.safe_load(path.read_text())
    assert record["config"]["grid"]["sigma"]["num"] == 3
    assert record["packages"]["numpy"] == __import__("numpy").__version__
    assert record["python"].count(".") == 2 and record["code_revision"]


def test_missing_package_is_reported_not_raised():
    assert package_versions(("no-such-package-xyz",)) == {"no-such-package-xyz": "not installed"}
