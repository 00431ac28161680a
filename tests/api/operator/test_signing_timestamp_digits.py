"""Regression (found by fuzzing): an X-Timestamp of non-ASCII digits was a 500.

`str.isdigit()` is true for "²" or "٣", which `float()` cannot read; the ValueError
escaped the signature check. Any X-Timestamp that is neither ASCII Unix seconds nor ISO
8601 with a zone is a bad signature: 401/2001.
"""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("stamp", ["\u00b2", "\u00b9\u00b2\u00b3", "\u0663", "1\u00b2", "\uff11"])
def test_non_ascii_digit_timestamps_are_a_bad_signature(api, make_client, operator_token, stamp):
    client, secret = make_client()
    token = operator_token(client, secret)
    response = api.client.get(
        "/v1/operator/sites",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_X_SIGNATURE="0" * 64,
        HTTP_X_TIMESTAMP=stamp,
    )
    assert response.status_code == 401, response.content
    assert response.json()["code"] == 2001
