"""The typed report's keys are the README's JSON keys table, nested objects included."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

import wavedil
from wavedil import report as rpt

README = Path(__file__).resolve().parent.parent / "README.md"

#: The README rows whose meaning lists the keys of a nested object, and the record that holds them.
NESTED = {
    "layers": [rpt.LayerRow],
    "dense_equivalent": [rpt.DenseEquivalent],
    "coverage": [rpt.CoverageSummary],
    "effective_receptive_field": [rpt.EffectiveField],
    "frequency_response": [rpt.FrequencyResponse, rpt.Gain],
    "speed": [rpt.Speed],
    "memory": [rpt.Memory],
    "submodels": [rpt.Submodel],
    "audio": [rpt.AudioFacts],
    "stages": [rpt.StageRow],
}


def readme_table() -> dict[str, str]:
    """Each key of the README's report table (the rows after "The JSON keys are fixed") and its meaning cell."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("The JSON keys are fixed") :]
    rows: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("key", "---"):
            continue
        for key in re.findall(r"`([^`]+)`", cells[0]):
            rows[key] = cells[2]
    return rows


def field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_the_top_level_keys_are_the_readme_table():
    assert set(readme_table()) == field_names(rpt.Report)


@pytest.mark.parametrize("key", sorted(NESTED))
def test_each_nested_object_lists_its_keys_in_the_readme(key):
    # The meaning cell names each key in backticks; other backticked text (formulas, values) is not a name.
    named = {word for word in re.findall(r"`([^`]+)`", readme_table()[key]) if re.fullmatch(r"[a-z][a-z0-9_]*", word)}
    want = set().union(*(field_names(cls) for cls in NESTED[key]))
    assert named == want


def test_a_report_to_dict_has_exactly_the_documented_keys_and_survives_json():
    r = wavedil.analyze(wavedil.preset("comb"), 48000, speed=False)
    doc = json.loads(json.dumps(r.to_dict()))
    assert set(doc) == field_names(rpt.Report) - {"audio", "stages"}  # "audio" only in apply's reports, "stages" in chains
    assert set(doc["frequency_response"]) == field_names(rpt.FrequencyResponse)
    assert set(doc["layers"][0]) == field_names(rpt.LayerRow)
    assert doc == r.to_dict()
    chained = wavedil.analyze(wavedil.gain(-3) + wavedil.preset("comb"), 48000)
    doc = json.loads(json.dumps(chained.to_dict()))
    assert set(doc) == field_names(rpt.Report) - {"audio"}
    assert [set(stage) for stage in doc["stages"]] == [field_names(rpt.StageRow)] * 2


def test_mapping_access_reads_as_the_json():
    r = wavedil.analyze(wavedil.stack_from_dilations([1, 4], kernel_size=2))
    assert r["coverage"]["holes"] == [2, 3] and r.coverage.holes == (2, 3)
    assert list(r) == list(r.to_dict()) and "audio" not in r
    with pytest.raises(KeyError):
        r["audio"]
