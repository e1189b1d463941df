"""How a report came in (:mod:`sipadu.services.intake`): the sealed ``intake`` field's
JSON, the same for every report whatever its channel, within one padding bucket."""

import json

import pytest

from sipadu.services.intake import (
    INTAKE_BYTES,
    OPERATOR_CHANNELS,
    Channel,
    Intake,
    intake_json,
    parse_intake,
)


def test_a_web_report_says_web_and_names_no_office_and_no_operator():
    assert json.loads(intake_json(None)) == {"channel": "web", "office": "", "operator": ""}


def test_an_operators_intake_reads_back_as_it_was_written():
    intake = Intake(Channel.PHONE, "Kecamatan Menteng, Jakarta Pusat", "petugas1")
    assert parse_intake(intake_json(intake)) == intake
    assert Channel.WEB not in OPERATOR_CHANNELS and len(OPERATOR_CHANNELS) == 5


def test_anything_else_is_not_an_intake():
    for text in ("", "[]", '{"channel": "fax", "office": "", "operator": ""}', '{"channel":1}'):
        assert parse_intake(text) is None


def test_an_intake_larger_than_one_padding_bucket_is_refused():
    with pytest.raises(ValueError):
        intake_json(Intake(Channel.OTHER, "x" * INTAKE_BYTES, "petugas1"))
