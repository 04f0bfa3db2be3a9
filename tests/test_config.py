import pytest
from click.testing import CliRunner

from referral_api.cli import main
from referral_api.config import DEFAULT_ACK_HOURS, Config, ConfigError


def test_missing_secret_fails_with_instructions() -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"DATABASE_URL": "sqlite://"})
    message = str(raised.value)
    assert "REFERRAL_API_SECRET_KEY" in message
    assert "export REFERRAL_API_SECRET_KEY=" in message


def test_serve_refuses_to_start_without_secret() -> None:
    result = CliRunner().invoke(main, ["serve"], env={"REFERRAL_API_SECRET_KEY": ""})
    assert result.exit_code == 2
    assert "REFERRAL_API_SECRET_KEY is not set" in result.output


def test_short_secret_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        Config.from_env({"REFERRAL_API_SECRET_KEY": "short"})


def test_defaults_and_overrides() -> None:
    config = Config.from_env(
        {
            "REFERRAL_API_SECRET_KEY": "x" * 40,
            "DATABASE_URL": "postgresql+psycopg://db/referrals",
            "REFERRAL_API_ACK_HOURS": "high=0.5, low=48",
            "REFERRAL_API_START_DAYS": "3",
            "LOG_LEVEL": "debug",
        }
    )
    assert config.database_url == "postgresql+psycopg://db/referrals"
    assert config.ack_hours == {"high": 0.5, "medium": DEFAULT_ACK_HOURS["medium"], "low": 48}
    assert config.start_days == 3
    assert config.log_level == "DEBUG"


def test_serve_timeouts_have_defaults_and_overrides() -> None:
    defaults = Config.from_env({}, require_secret=False)
    assert (defaults.header_timeout_s, defaults.body_timeout_s) == (10, 30)
    assert (defaults.request_timeout_s, defaults.shutdown_timeout_s) == (60, 30)
    config = Config.from_env(
        {
            "REFERRAL_API_HEADER_TIMEOUT_S": "2.5",
            "REFERRAL_API_BODY_TIMEOUT_S": "15",
            "REFERRAL_API_REQUEST_TIMEOUT_S": "120",
            "REFERRAL_API_SHUTDOWN_TIMEOUT_S": "5",
        },
        require_secret=False,
    )
    assert (config.header_timeout_s, config.body_timeout_s) == (2.5, 15)
    assert (config.request_timeout_s, config.shutdown_timeout_s) == (120, 5)


def test_default_database_is_sqlite_under_instance() -> None:
    config = Config.from_env({}, require_secret=False)
    assert config.database_url.startswith("sqlite:///")
    assert "/instance/" in config.database_url


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("REFERRAL_API_ACK_HOURS", "urgent=1", "LEVEL=HOURS"),
        ("REFERRAL_API_ACK_HOURS", "high=soon", "must be a number"),
        ("REFERRAL_API_ACK_HOURS", "high=-1", "greater than 0"),
        ("REFERRAL_API_START_DAYS", "0", "greater than 0"),
        ("LOG_LEVEL", "LOUD", "not a logging level"),
        ("REFERRAL_API_HEADER_TIMEOUT_S", "61", "between 0.001 and 60"),
        ("REFERRAL_API_BODY_TIMEOUT_S", "-5", "greater than 0"),
        ("REFERRAL_API_REQUEST_TIMEOUT_S", "a minute", "must be a number"),
        ("REFERRAL_API_SHUTDOWN_TIMEOUT_S", "0", "greater than 0"),
    ],
)
def test_bad_settings_are_refused(name: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Config.from_env({"REFERRAL_API_SECRET_KEY": "x" * 40, name: value})


def test_lifecycle_days() -> None:
    base = {"REFERRAL_API_SECRET_KEY": "x" * 40}
    defaults = Config.from_env(base)
    assert (defaults.closed_access_days, defaults.retention_days) == (30, 1825)
    config = Config.from_env(
        {**base, "REFERRAL_API_CLOSED_ACCESS_DAYS": "0", "REFERRAL_API_RETENTION_DAYS": "3650"}
    )
    assert (config.closed_access_days, config.retention_days) == (0, 3650)
    for name, value in (
        ("REFERRAL_API_CLOSED_ACCESS_DAYS", "-1"),
        ("REFERRAL_API_CLOSED_ACCESS_DAYS", "a month"),
        ("REFERRAL_API_RETENTION_DAYS", "0"),
    ):
        with pytest.raises(ConfigError, match=name):
            Config.from_env({**base, name: value})
