"""Production stores passwords as argon2 hashes; the test session hashes with MD5 for speed.

The production check runs in a fresh interpreter with the project's real settings module, so no
setting a test overrides can make it pass.
"""

import pytest

ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_production_hashes_passwords_with_argon2(production_password_hashing):
    assert production_password_hashing["hashers"][0] == ARGON2
    assert production_password_hashing["hash"].startswith("argon2$argon2id$")


@pytest.mark.django_db
def test_the_test_session_hashes_quickly_with_md5(alice):
    assert alice.password.startswith("md5$")
