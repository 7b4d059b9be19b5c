import time

import pytest

from dovetail import WebhookVerificationError, decode_secret, generate_secret, sign_webhook, verify_webhook

BODY = b'{"type":"client.event","timestamp":"2026-11-22T10:00:00.000Z","channel":"room:lobby","data":{"n":1}}'


def headers(msg_id: str, ts: int, signature: str) -> dict:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def code_of(fn) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        fn()
    return caught.value.code


def test_a_signature_verifies_with_either_secret_of_a_rotation():
    old, new = generate_secret(), generate_secret()
    now = int(time.time())
    signature = sign_webhook([old, new], "msg_1", now, BODY)
    assert len(signature.split(" ")) == 2
    assert verify_webhook(BODY, headers("msg_1", now, signature), old)["data"] == {"n": 1}
    assert verify_webhook(BODY.decode(), headers("msg_1", now, signature), [generate_secret(), new])["type"] == "client.event"
    assert code_of(lambda: verify_webhook(BODY, headers("msg_1", now, signature), generate_secret())) == "no_matching_signature"


def test_a_changed_body_id_or_timestamp_is_refused():
    secret = generate_secret()
    now = int(time.time())
    signature = sign_webhook([secret], "msg_2", now, BODY)
    assert code_of(lambda: verify_webhook(BODY + b" ", headers("msg_2", now, signature), secret)) == "no_matching_signature"
    assert code_of(lambda: verify_webhook(BODY, headers("msg_3", now, signature), secret)) == "no_matching_signature"
    assert code_of(lambda: verify_webhook(BODY, headers("msg_2", now + 1, signature), secret)) == "no_matching_signature"
    assert code_of(lambda: verify_webhook(BODY, headers("msg_2", now, "v1,AAAA v2,x \u00e9"), secret)) == "no_matching_signature"


def test_stale_and_future_timestamps_missing_headers_and_bad_secrets_are_refused():
    secret = generate_secret()
    now = int(time.time())
    stale = sign_webhook([secret], "m", now - 301, BODY)
    assert code_of(lambda: verify_webhook(BODY, headers("m", now - 301, stale), secret)) == "timestamp_out_of_range"
    future = sign_webhook([secret], "m", now + 301, BODY)
    assert code_of(lambda: verify_webhook(BODY, headers("m", now + 301, future), secret)) == "timestamp_out_of_range"
    assert code_of(lambda: verify_webhook(BODY, {"webhook-id": "m"}, secret)) == "missing_headers"
    assert code_of(lambda: verify_webhook(BODY, headers("m", -5, stale), secret)) == "bad_timestamp"
    assert code_of(lambda: decode_secret("whsec_c2hvcnQ=")) == "bad_secret"
    assert code_of(lambda: decode_secret("whsec_!!!")) == "bad_secret"


def test_headers_match_whatever_their_case():
    secret = generate_secret()
    now = int(time.time())
    signature = sign_webhook([secret], "msg_4", now, BODY)
    upper = {"Webhook-Id": "msg_4", "Webhook-Timestamp": str(now), "Webhook-Signature": signature}
    assert verify_webhook(BODY, upper, secret)["channel"] == "room:lobby"
