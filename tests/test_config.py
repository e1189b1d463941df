"""Configuration is one pure function of a mapping, validated, with safe defaults."""

import ast
from pathlib import Path

import pytest

import sipadu
from sipadu.crypto import Argon2Params
from sipadu.settings.config import (
    MIB,
    ConfigError,
    DatePrecision,
    DayCount,
    Environment,
    load_config,
)


def test_defaults_are_production_sqlite_in_instance_and_real_argon2(tmp_path):
    config = load_config({"SIPADU_INSTANCE_PATH": str(tmp_path)})
    assert config.env is Environment.PRODUCTION and config.production
    assert config.database_url == f"sqlite:///{tmp_path / 'sipadu.db'}"
    assert config.redis_url is None
    assert config.argon2 == Argon2Params(3, 65536, 4) == config.lookup_argon2
    assert config.max_request_bytes == 500 * MIB
    assert (config.image_cleaners, config.image_pixels_per_request) == (2, 150_000_000)
    assert (config.image_cleaner_memory_bytes, config.image_cleaner_cpu_seconds) == (1024 * MIB, 20)
    assert (config.document_cleaner_cpu_seconds, config.document_seconds_per_request) == (60, 180)
    assert config.date_precision is DatePrecision.DAY
    assert (config.ack_days, config.feedback_days, config.day_count) == (7, 90, DayCount.CALENDAR)
    assert (config.reporter_bind, config.staff_bind) == ("127.0.0.1:5000", "127.0.0.1:5001")
    assert config.workers == 1  # no Redis: one process counts every failure (issue 13)
    assert (config.kdf_slots, config.kdf_queue, config.kdf_wait_ms) == (2, 4, 2000)
    assert config.kdf_nice == 10
    assert config.mailbox_failures_per_code == config.staff_failures_per_account == "10 per hour"
    assert config.reports_per_hour == 60


def test_every_setting_is_read(tmp_path):
    config = load_config(
        {
            "SIPADU_ENV": "development",
            "SIPADU_INSTANCE_PATH": str(tmp_path),
            "SIPADU_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "SIPADU_REDIS_URL": "redis://h:6379/2",
            "SIPADU_ARGON2_TIME_COST": "4",
            "SIPADU_ARGON2_MEMORY_KIB": "131072",
            "SIPADU_ARGON2_PARALLELISM": "2",
            "SIPADU_LOOKUP_ARGON2_TIME_COST": "2",
            "SIPADU_MAX_REQUEST_MIB": "100",
            "SIPADU_MAX_FILE_MIB": "50",
            "SIPADU_MAX_FILES": "5",
            "SIPADU_IMAGE_CLEANERS": "3",
            "SIPADU_IMAGE_MEGAPIXELS_PER_REQUEST": "60",
            "SIPADU_IMAGE_CLEANER_MEMORY_MIB": "512",
            "SIPADU_IMAGE_CLEANER_CPU_SECONDS": "10",
            "SIPADU_DOCUMENT_CLEANER_MEMORY_MIB": "768",
            "SIPADU_DOCUMENT_CLEANER_CPU_SECONDS": "30",
            "SIPADU_DATE_PRECISION": "week",
            "SIPADU_ACK_DAYS": "5",
            "SIPADU_FEEDBACK_DAYS": "60",
            "SIPADU_DAY_COUNT": "working",
            "SIPADU_REFERRAL_FOLLOW_UP_DAYS": "14",
            "SIPADU_REPORTER_BIND": "0.0.0.0:8000",
            "SIPADU_STAFF_BIND": "10.0.0.2:8001",
            "SIPADU_WORKERS": "4",
            "SIPADU_THREADS": "16",
            "SIPADU_KDF_SLOTS": "3",
            "SIPADU_KDF_QUEUE": "0",
            "SIPADU_KDF_WAIT_MS": "500",
            "SIPADU_KDF_NICE": "0",
            "SIPADU_MAILBOX_FAILURES_PER_CODE": "5 per hour",
            "SIPADU_STAFF_FAILURES_PER_ACCOUNT": "20 per day",
            "SIPADU_LOOKUP_SALT": "00" * 16,
            "SIPADU_REPORTS_PER_HOUR": "500",
        }
    )
    assert config.env is Environment.DEVELOPMENT
    assert config.database_url.startswith("postgresql")
    assert config.redis_url == "redis://h:6379/2"
    assert config.argon2 == Argon2Params(4, 131072, 2)
    assert config.lookup_argon2.time_cost == 2
    assert (config.max_request_bytes, config.max_file_bytes, config.max_files) == (
        100 * MIB,
        50 * MIB,
        5,
    )
    assert (config.image_cleaners, config.image_pixels_per_request) == (3, 60_000_000)
    assert (config.image_cleaner_memory_bytes, config.image_cleaner_cpu_seconds) == (512 * MIB, 10)
    assert config.document_cleaner_memory_bytes == 768 * MIB
    assert config.document_cleaner_cpu_seconds == 30
    assert config.document_seconds_per_request == 90  # three children's worth by default
    assert config.date_precision is DatePrecision.WEEK
    assert (config.ack_days, config.feedback_days, config.day_count) == (5, 60, DayCount.WORKING)
    assert config.referral_follow_up_days == 14
    assert (config.reporter_bind, config.staff_bind) == ("0.0.0.0:8000", "10.0.0.2:8001")
    assert (config.workers, config.threads) == (4, 16)
    assert (config.kdf_slots, config.kdf_queue, config.kdf_wait_ms) == (3, 0, 500)
    assert config.kdf_nice == 0
    assert config.mailbox_failures_per_code == "5 per hour"
    assert config.staff_failures_per_account == "20 per day"
    assert config.secrets.lookup_salt == bytes(16)
    assert config.reports_per_hour == 500


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"SIPADU_ENV": "staging"}, "SIPADU_ENV"),
        ({"SIPADU_MAX_FILES": "many"}, "SIPADU_MAX_FILES"),
        ({"SIPADU_MAX_FILES": "0"}, "SIPADU_MAX_FILES"),
        ({"SIPADU_DATE_PRECISION": "second"}, "SIPADU_DATE_PRECISION"),
        ({"SIPADU_LOOKUP_SALT": "zz"}, "SIPADU_LOOKUP_SALT"),
        ({"SIPADU_STAFF_SESSION_KEY": "00" * 16}, "SIPADU_STAFF_SESSION_KEY"),
        ({"SIPADU_ARGON2_TIME_COST": "1"}, "Argon2"),
        ({"SIPADU_ENV": "development", "SIPADU_ARGON2_MEMORY_KIB": "4"}, "SIPADU_ARGON2"),
        ({"SIPADU_MAX_FILE_MIB": "600"}, "SIPADU_MAX_FILE_MIB"),
        ({"SIPADU_FEEDBACK_DAYS": "3"}, "SIPADU_FEEDBACK_DAYS"),
        ({"SIPADU_REFERRAL_FOLLOW_UP_DAYS": "0"}, "SIPADU_REFERRAL_FOLLOW_UP_DAYS"),
        ({"SIPADU_KDF_SLOTS": "0"}, "SIPADU_KDF_SLOTS"),
        ({"SIPADU_KDF_QUEUE": "-1"}, "SIPADU_KDF_QUEUE"),
        ({"SIPADU_KDF_NICE": "20"}, "SIPADU_KDF_NICE"),
        ({"SIPADU_UPLOAD_SLOTS": "0"}, "SIPADU_UPLOAD_SLOTS"),
        ({"SIPADU_MAILBOX_FAILURES_PER_CODE": "often"}, "SIPADU_MAILBOX_FAILURES_PER_CODE"),
        ({"SIPADU_HEAD_TIMEOUT_SECONDS": "0"}, "SIPADU_HEAD_TIMEOUT_SECONDS"),
        ({"SIPADU_IMAGE_CLEANERS": "0"}, "SIPADU_IMAGE_CLEANERS"),
        ({"SIPADU_IMAGE_CLEANER_MEMORY_MIB": "64"}, "SIPADU_IMAGE_CLEANER_MEMORY_MIB"),
        ({"SIPADU_DOCUMENT_CLEANER_MEMORY_MIB": "256"}, "SIPADU_DOCUMENT_CLEANER_MEMORY_MIB"),
        ({"SIPADU_REPORTS_PER_HOUR": "0"}, "SIPADU_REPORTS_PER_HOUR"),
        ({"SIPADU_REPORTS_PER_HOUR": "60 per hour"}, "SIPADU_REPORTS_PER_HOUR"),
    ],
)
def test_invalid_settings_are_refused_naming_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        load_config(env)


def test_the_front_keeps_threads_for_other_requests_and_reads_every_setting():
    config = load_config({})
    assert (config.head_timeout_seconds, config.body_timeout_seconds) == (10, 20)
    assert (config.body_min_rate, config.small_body_bytes) == (1024, 64 * 1024)
    assert (config.upload_slots, config.upload_queue, config.upload_wait_seconds) == (4, 16, 30)
    assert config.max_connections == 1000
    assert load_config({"SIPADU_THREADS": "16"}).upload_slots == 8  # half the threads
    config = load_config(
        {
            "SIPADU_THREADS": "6",
            "SIPADU_HEAD_TIMEOUT_SECONDS": "15",
            "SIPADU_BODY_TIMEOUT_SECONDS": "30",
            "SIPADU_BODY_MIN_KIB_PER_SECOND": "2",
            "SIPADU_SMALL_BODY_KIB": "128",
            "SIPADU_UPLOAD_SLOTS": "5",
            "SIPADU_UPLOAD_QUEUE": "0",
            "SIPADU_UPLOAD_WAIT_SECONDS": "10",
            "SIPADU_MAX_CONNECTIONS": "200",
        }
    )
    assert (config.head_timeout_seconds, config.body_timeout_seconds) == (15, 30)
    assert (config.body_min_rate, config.small_body_bytes) == (2048, 128 * 1024)
    assert (config.upload_slots, config.upload_queue, config.upload_wait_seconds) == (5, 0, 10)
    assert config.max_connections == 200


def test_production_refuses_weak_argon2_but_development_allows_it():
    cheap = {
        "SIPADU_ARGON2_TIME_COST": "1",
        "SIPADU_ARGON2_MEMORY_KIB": "256",
        "SIPADU_ARGON2_PARALLELISM": "1",
    }
    with pytest.raises(ConfigError):
        load_config(cheap)
    assert load_config({**cheap, "SIPADU_ENV": "development"}).argon2.time_cost == 1


def test_secret_overrides_do_not_show_in_repr():
    config = load_config({"SIPADU_STAFF_SESSION_KEY": "ab" * 32})
    assert "ab" * 32 not in repr(config)


def test_nothing_but_config_reads_the_environment():
    package = Path(sipadu.__file__).parent
    readers = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv", "environb")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(alias.name in ("environ", "getenv") for alias in node.names)
            ):
                readers.append(str(path.relative_to(package)))
    assert sorted(set(readers)) == ["settings/config.py"]


def test_the_institution_is_an_example_until_the_operator_names_it():
    """Issue 16 item 8: every reporter page names the office that runs the portal; the
    shipped values are marked examples, and an operator's own Indonesian is shown on the
    English page too unless an English text is given."""
    example = load_config({}).institution
    assert "(contoh)" in example.name
    assert "(example)" in example.hours.en and "(contoh)" in example.hours.id
    assert len(example.example_settings()) == 6
    config = load_config(
        {
            "SIPADU_INSTITUTION_NAME": "  Inspektorat   Kota Contohan ",
            "SIPADU_INSTITUTION_DESCRIPTION_ID": "Pengawas internal Pemerintah Kota Contohan.",
            "SIPADU_INSTITUTION_ADDRESS": "Jl. Merdeka No. 5, Contohan",
            "SIPADU_INSTITUTION_HOURS_ID": "Senin-Kamis 08.00-15.00 WIB",
            "SIPADU_INSTITUTION_HOURS_EN": "Monday to Thursday 08:00-15:00 WIB",
            "SIPADU_INSTITUTION_PHONE": "(0274) 123456",
            "SIPADU_INSTITUTION_LEGAL_BASIS_EN": "Mayor Regulation 12/2023",
        }
    ).institution
    assert config.name == "Inspektorat Kota Contohan"
    assert config.description.en == config.description.id  # no English given: the Indonesian
    assert config.hours.in_language("en") == "Monday to Thursday 08:00-15:00 WIB"
    assert config.hours.in_language("id") == "Senin-Kamis 08.00-15.00 WIB"
    assert config.legal_basis.id == "Mayor Regulation 12/2023"
    assert config.example_settings() == []
    with pytest.raises(ConfigError, match="SIPADU_INSTITUTION_NAME"):
        load_config({"SIPADU_INSTITUTION_NAME": "x" * 301})


@pytest.mark.parametrize(
    "office, why",
    [
        ("Loket 10.1.2.3", "IP address"),
        ("Pos fe80::1", "IP address"),
        ("Kantor 1234 5678 9012 3456", "report code"),
    ],
)
def test_an_intake_office_the_audit_log_would_refuse_stops_the_staff_portal(tmp_path, office, why):
    """Issue 18: an office the audit log refuses in an intake's entry gave an error page
    at intake time, after the whole report was typed; now the staff portal does not
    start, and says which name and why (``sipadu check`` too: test_deploy_check)."""
    from sipadu import create_app

    config = load_config(
        {
            "SIPADU_ENV": "development",
            "SIPADU_INSTANCE_PATH": str(tmp_path),
            "SIPADU_INTAKE_OFFICES": f"Kantor Inspektorat;{office}",
        }
    )
    with pytest.raises(ConfigError, match="SIPADU_INTAKE_OFFICES") as refused:
        create_app("staff", config)
    assert repr(office) in str(refused.value) and why in str(refused.value)
    assert "Kantor Inspektorat" not in str(refused.value)


def test_the_document_cleaning_budget_of_a_request_is_set_or_three_childrens_worth(tmp_path):
    base = {"SIPADU_INSTANCE_PATH": str(tmp_path)}
    config = load_config({**base, "SIPADU_DOCUMENT_SECONDS_PER_REQUEST": "45"})
    assert config.document_seconds_per_request == 45
    config = load_config({**base, "SIPADU_DOCUMENT_CLEANER_CPU_SECONDS": "1"})
    assert config.document_seconds_per_request == 3
    with pytest.raises(ConfigError):
        load_config({**base, "SIPADU_DOCUMENT_SECONDS_PER_REQUEST": "0"})
