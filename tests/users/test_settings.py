"""Users settings are read from the environment and validated, naming the variable."""

from __future__ import annotations

import pytest

from evently.core.settings import SettingsError, load_settings
from evently.users.settings import UsersSettings

BASE_ENV = {
    "DATABASE_URL": "postgresql://localhost/x",
    "INTERNAL_API_KEY": "k" * 16,
    "JWT_SIGNING_KEYS": "{}",
}


def test_defaults_are_the_documented_ones():
    settings = load_settings(UsersSettings, BASE_ENV)
    assert settings.bcrypt_rounds == 12
    assert settings.access_token_ttl_s == 15 * 60
    assert settings.refresh_token_ttl_s == 7 * 24 * 3600
    assert settings.login_account_max_attempts == 10
    assert settings.login_address_max_attempts == 100


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"BCRYPT_ROUNDS": "3"}, "BCRYPT_ROUNDS"),
        ({"BCRYPT_ROUNDS": "32"}, "BCRYPT_ROUNDS"),
        ({"BCRYPT_ROUNDS": "twelve"}, "BCRYPT_ROUNDS"),
        ({"ACCESS_TOKEN_TTL_S": "5"}, "ACCESS_TOKEN_TTL_S"),
        ({"REFRESH_TOKEN_TTL_S": "0"}, "REFRESH_TOKEN_TTL_S"),
        ({"ACCESS_TOKEN_TTL_S": "3600", "REFRESH_TOKEN_TTL_S": "600"}, "REFRESH_TOKEN_TTL_S"),
        ({"LOGIN_ACCOUNT_MAX_ATTEMPTS": "0"}, "LOGIN_ACCOUNT_MAX_ATTEMPTS"),
        ({"LOGIN_ADDRESS_WINDOW_S": "-1"}, "LOGIN_ADDRESS_WINDOW_S"),
        ({"USERS_HOUSEKEEPING_INTERVAL_S": "0"}, "USERS_HOUSEKEEPING_INTERVAL_S"),
    ],
)
def test_invalid_values_are_refused_naming_the_variable(env, variable):
    with pytest.raises(SettingsError, match=variable):
        load_settings(UsersSettings, {**BASE_ENV, **env})
