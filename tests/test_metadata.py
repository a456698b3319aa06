"""Sidecar and filename-pattern metadata, with readable errors."""

import json

import pytest

from qa.metadata import MetadataError, read_metadata

PCA_PATTERN = r"^(?P<call_id>.+?)_AGENT_(?P<agent_id>[^_]+)_DT_(?P<started_at>[0-9T:-]+)"


def write(tmp_path, name, sidecar):
    audio = tmp_path / f"{name}.wav"
    audio.write_bytes(b"")
    if sidecar is not None:
        (tmp_path / f"{name}.json").write_text(sidecar if isinstance(sidecar, str) else json.dumps(sidecar))
    return audio


def test_defaults_to_stem(tmp_path):
    meta = read_metadata(write(tmp_path, "call-001", None))
    assert meta.call_id == "call-001" and meta.agent_id is None and meta.agent_channel == 0


def test_sidecar_fields_and_unknown_fields_kept(tmp_path):
    audio = write(tmp_path, "x", {
        "call_id": "C-9", "agent_id": 1234, "agent_name": "Ayşe", "started_at": "2026-03-01T09:15:00+03:00",
        "direction": "Inbound", "queue": "billing", "language": "TR", "agent_channel": 1, "crm_ticket": "T-77",
    })
    meta = read_metadata(audio)
    assert meta.call_id == "C-9" and meta.agent_id == "1234" and meta.direction == "inbound"
    assert meta.language == "tr" and meta.agent_channel == 1
    assert meta.started_at.utcoffset().total_seconds() == 3 * 3600
    assert meta.extra == {"crm_ticket": "T-77"}


def test_filename_pattern_with_sidecar_override(tmp_path):
    name = "Auto0_GUID_000_AGENT_ChrisL_DT_2025-02-19T06-01-22_Mono"
    meta = read_metadata(write(tmp_path, name, None), PCA_PATTERN)
    assert meta.call_id == "Auto0_GUID_000" and meta.agent_id == "ChrisL"
    assert meta.started_at.isoformat().startswith("2025-02-19T06:01:22")
    meta = read_metadata(write(tmp_path, name, {"agent_id": "chris.l"}), PCA_PATTERN)
    assert meta.agent_id == "chris.l" and meta.call_id == "Auto0_GUID_000"


@pytest.mark.parametrize(
    "sidecar, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ({"direction": "sideways"}, "field 'direction'"),
        ({"agent_channel": 2}, "field 'agent_channel'"),
        ({"started_at": "yesterday"}, "field 'started_at'"),
    ],
)
def test_bad_sidecars_name_the_problem(tmp_path, sidecar, fragment):
    with pytest.raises(MetadataError) as err:
        read_metadata(write(tmp_path, "bad", sidecar))
    assert fragment in str(err.value) and "bad.json" in str(err.value)
