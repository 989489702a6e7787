import base64
import datetime

import pytest
from standardwebhooks import Webhook

from webhooks import signing
from webhooks.services import retry_delay_seconds
from webhooks.transport import retry_after_seconds


def test_signing_secret_is_whsec_and_32_random_bytes():
    # given / when
    secret = signing.secret_generate()

    # then
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != signing.secret_generate()


def test_signing_sign_matches_the_standardwebhooks_library():
    # given
    secret = signing.secret_generate()
    body = '{"id":"evt_1","event":"optimized","name":"é"}'.encode()
    timestamp = 1_700_000_000

    # when
    signature = signing.sign(secret=secret, msg_id="evt_1", timestamp=timestamp, body=body)

    # then
    expected = Webhook(secret).sign(
        "evt_1", datetime.datetime.fromtimestamp(timestamp, datetime.UTC), body.decode()
    )
    assert signature == expected


def test_signing_verify_accepts_own_signature_and_refuses_tampering():
    # given
    secret = signing.secret_generate()
    header = "v0,nope " + signing.sign(secret=secret, msg_id="evt_1", timestamp=1, body=b"{}")

    # when / then
    assert signing.verify(secret=secret, msg_id="evt_1", timestamp=1, body=b"{}", signature_header=header)
    assert not signing.verify(
        secret=secret, msg_id="evt_1", timestamp=1, body=b"{ }", signature_header=header
    )
    assert not signing.verify(secret=secret, msg_id="evt_2", timestamp=1, body=b"{}", signature_header=header)
    assert not signing.verify(
        secret=signing.secret_generate(), msg_id="evt_1", timestamp=1, body=b"{}", signature_header=header
    )


@pytest.mark.parametrize(
    ("attempts_made", "step"), [(1, 5), (2, 300), (3, 1800), (4, 7200), (5, 18000), (9, 86400)]
)
def test_retry_delay_follows_the_standard_webhooks_schedule_with_jitter(settings, attempts_made, step):
    # given
    settings.CRUSH_WEBHOOK_RETRY_SCALE = 1.0

    # when
    delay = retry_delay_seconds(attempts_made=attempts_made, retry_after_seconds=None)

    # then
    assert 0.8 * step <= delay <= 1.2 * step


def test_retry_delay_ends_after_the_last_step():
    # given / when / then
    assert retry_delay_seconds(attempts_made=10, retry_after_seconds=None) is None


def test_retry_delay_takes_retry_after_capped_at_the_longest_step(settings):
    # given
    settings.CRUSH_WEBHOOK_RETRY_SCALE = 1.0

    # when / then
    assert retry_delay_seconds(attempts_made=1, retry_after_seconds=120) == 120
    assert retry_delay_seconds(attempts_made=1, retry_after_seconds=10**9) == 86400


@pytest.mark.parametrize(
    ("header", "seconds"), [(None, None), ("", None), ("120", 120.0), ("soon", None), ("-5", None)]
)
def test_retry_after_header_parsing(header, seconds):
    # given / when / then
    assert retry_after_seconds(header) == seconds


def test_retry_after_http_date_is_seconds_from_now():
    # given
    header = "Wed, 21 Oct 2015 07:28:00 GMT"  # long past

    # when / then
    assert retry_after_seconds(header) == 0.0
