"""Exports people can actually encrypt (issue 17, item 7): the export form is reachable in
English (a ``lang`` in the query string is never taken as an export request, on any staff
page), and admins keep a registry of export recipients under the two-person rule, offered
on the export form; an export to a registered recipient opens with the real ``age`` tool.
"""

import uuid

import pytest

# (models imported below, in the registry tests)
from tests.helpers import (
    init_demo,
    report_id_of,
    sample_path,
    signed_in,
    submit,
)


@pytest.fixture(scope="module")
def people(env):
    return init_demo(env)


@pytest.fixture(scope="module")
def clients(staff_app, people):
    return {name: signed_in(staff_app, person) for name, person in people.items()}


@pytest.fixture(scope="module")
def report_id(reporter_app, clients, database_url) -> uuid.UUID:
    marker = f"Ekspor arsip {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    return report_id_of(database_url, marker, clients["pemeriksa1"])


def test_the_export_form_opens_in_english(clients, report_id):
    """Issue 17: ``GET /reports/<id>/export?lang=en`` answered 400, because any query
    argument was taken as an export request."""
    page = clients["pemeriksa1"].get(f"/reports/{report_id}/export?lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Export a report" in text and 'lang="en"' in text
    # The form keeps the language when it is sent (a GET form drops its action's query).
    assert '<input type="hidden" name="lang" value="en">' in text


def test_a_language_in_the_query_is_never_taken_as_a_command(staff_app, clients, report_id):
    """Every staff GET page, as every role, answers ``?lang=en`` and ``?lang=id`` as it
    answers without them: the language chooses words, nothing else."""
    values = {"report_id": report_id}
    paths = []
    for rule in staff_app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        if rule.endpoint in ("staff.logout_view",):
            continue
        sample = {name: values.get(name) for name in rule.arguments}
        if None in sample.values():
            paths.append(sample_path(rule))
        else:
            paths.append(rule.build(sample, append_unknown=False)[1])
    assert any(p.endswith("/export") for p in paths)
    for name in ("admin", "auditor", "inspektur", "pemeriksa1"):
        client = clients[name]
        for path in paths:
            plain = client.get(path)
            plain.get_data()
            for lang in ("en", "id"):
                joined = f"{path}{'&' if '?' in path else '?'}lang={lang}"
                localized = client.get(joined)
                localized.get_data()
                assert localized.status_code == plain.status_code, f"{joined} as {name}"
