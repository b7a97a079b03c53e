"""Credentials and failures: bearer tokens, SMART Backend Services, retries with back-off."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from membercore.errors import ConfigError
from membercore_fhir.server.config import BearerToken, SmartBackend
from membercore_fhir.server.outcomes import FhirServerError
from membercore_fhir.server.polling import FhirServerSource

from .fhirserver import FhirServer, Smart
from .serverkit import MAPPING, open_engine, patient, poll, settings, visit, visits


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, bytes]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


RSA = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
EC = _pem(ec.generate_private_key(ec.SECP384R1()))


def _smart(server: FhirServer, algorithm: str = "RS384") -> SmartBackend:
    return SmartBackend(
        token_url=server.token_url,
        client_id="membercore",
        private_key_env="HIS_FHIR_KEY",
        key_id="k1",
        algorithm=algorithm,  # type: ignore[arg-type]
    )


def _stocked(server: FhirServer) -> None:
    server.put(patient(0))
    for number in range(7):
        server.put(visit(number, 0))


# -- bearer tokens ------------------------------------------------------------------------


def test_a_static_bearer_token_from_the_environment_is_sent_with_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HIS_FHIR_TOKEN", "s3cret")
    with FhirServer(bearer="s3cret") as server, open_engine() as engine:
        _stocked(server)
        report = poll(engine, settings(server, auth=BearerToken("HIS_FHIR_TOKEN")))
        assert report.rejected == 0
        assert {r.authorization for r in server.requests} == {"Bearer s3cret"}


def test_a_token_the_server_refuses_stops_the_read_naming_the_401_and_never_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HIS_FHIR_TOKEN", "wrong-token")
    with FhirServer(bearer="s3cret") as server:
        _stocked(server)
        source = FhirServerSource(settings(server, auth=BearerToken("HIS_FHIR_TOKEN")), MAPPING)
        with pytest.raises(FhirServerError, match="401 Unauthorized") as raised:
            list(source.read())
        assert "wrong-token" not in str(raised.value)


def test_a_token_variable_that_is_not_set_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HIS_FHIR_TOKEN", raising=False)
    with FhirServer() as server, pytest.raises(ConfigError, match="HIS_FHIR_TOKEN is not set"):
        FhirServerSource(settings(server, auth=BearerToken("HIS_FHIR_TOKEN")), MAPPING)


# -- SMART Backend Services ----------------------------------------------------------------


@pytest.mark.parametrize(("algorithm", "key"), [("RS384", RSA), ("ES384", EC)])
def test_smart_backend_services_signs_an_assertion_the_server_verifies(
    monkeypatch: pytest.MonkeyPatch, algorithm: str, key: tuple[str, bytes]
) -> None:
    monkeypatch.setenv("HIS_FHIR_KEY", key[0])
    smart = Smart(client_id="membercore", public_key=key[1])
    with FhirServer(smart=smart) as server, open_engine() as engine:
        _stocked(server)
        config = settings(server, auth=_smart(server, algorithm))
        assert poll(engine, config).rejected == 0
        assert visits(engine, "MR0") == {f"V{n}" for n in range(7)}
        (claims,) = smart.assertions  # one token for the whole read
        assert (claims["iss"], claims["sub"], claims["aud"]) == (
            "membercore",
            "membercore",
            server.token_url,
        )
        assert (claims["alg"], claims["kid"]) == (algorithm, "k1")
        assert 0 < claims["exp"] - claims["iat"] <= 300
        poll(engine, config)
        assert len({c["jti"] for c in smart.assertions}) == len(smart.assertions) == 2


def test_a_token_the_server_expires_mid_read_is_replaced_and_the_read_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HIS_FHIR_KEY", RSA[0])
    smart = Smart(client_id="membercore", public_key=RSA[1], uses=2)
    with FhirServer(smart=smart) as server, open_engine() as engine:
        _stocked(server)
        report = poll(engine, settings(server, auth=_smart(server)))
        assert report.rejected == 0
        assert visits(engine, "MR0") == {f"V{n}" for n in range(7)}
        assert len(smart.assertions) >= 2
        searched = [r for r in server.requests if r.path.startswith("/fhir")]
        pages = 1 + 3  # the patients' page, the visits' three
        assert len(searched) == pages + len(smart.assertions) - 1  # each refusal sent again


def test_a_token_is_renewed_before_it_expires_without_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HIS_FHIR_KEY", RSA[0])
    smart = Smart(client_id="membercore", public_key=RSA[1], life=20)
    looks = [0]

    def clock() -> float:
        looks[0] += 1  # after a few requests, the client's clock is 19 s later
        return time.time() + (19.0 if looks[0] > 4 else 0.0)

    with FhirServer(smart=smart) as server:
        _stocked(server)
        config = settings(server, auth=_smart(server), page_size=1)
        list(FhirServerSource(config, MAPPING, clock=clock).read())
        assert len(smart.assertions) == 2  # renewed once, 2 s before its 20 s ran out
        refused = [r for r in server.requests if r.path == "/fhir/Encounter"]
        assert len(refused) == 7  # every page once: no request was refused


def test_a_smart_key_of_the_wrong_kind_is_refused_naming_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HIS_FHIR_KEY", EC[0])
    with FhirServer() as server, pytest.raises(ConfigError, match="RS384 signs with an RSA key"):
        FhirServerSource(settings(server, auth=_smart(server, "RS384")), MAPPING)


# -- retries -------------------------------------------------------------------------------


def test_429_and_503_are_sent_again_after_the_wait_the_server_asks_for() -> None:
    waits: list[float] = []
    with FhirServer() as server, open_engine() as engine:
        _stocked(server)
        server.fail(429, retry_after="7")
        server.fail(503, times=2)
        config = settings(server, backoff=0.5, max_backoff=30.0)
        report = poll(engine, config, sleep=waits.append)
        assert report.rejected == 0
        assert visits(engine, "MR0") == {f"V{n}" for n in range(7)}
        assert waits == [7.0, 1.0, 2.0]  # Retry-After, then the back-off doubling


def test_a_server_still_failing_after_the_retries_stops_the_read_with_a_clear_error() -> None:
    waits: list[float] = []
    with FhirServer() as server, open_engine() as engine:
        _stocked(server)
        config = settings(server, retries=2)
        poll(engine, config)
        server.put(visit(9, 0))
        server.fail(503, times=3)
        with pytest.raises(FhirServerError) as raised:
            poll(engine, config, sleep=waits.append)
        assert "503 Service Unavailable" in str(raised.value)
        assert "gave up after 2 retries" in str(raised.value)
        assert "/fhir/Patient" in raised.value.url
        assert len(waits) == 2
        assert poll(engine, config).rejected == 0  # the next poll takes what was missed
        assert "V9" in visits(engine, "MR0")


def test_a_server_that_cannot_be_reached_is_an_error_naming_it() -> None:
    with FhirServer() as server:
        config = settings(server, retries=1)
    with pytest.raises(OSError, match="the connection failed"):
        list(FhirServerSource(config, MAPPING, sleep=lambda _: None).read())


def test_a_retry_after_longer_than_the_longest_wait_is_cut_to_it() -> None:
    waits: list[float] = []
    with FhirServer() as server, open_engine() as engine:
        _stocked(server)
        server.fail(429, retry_after="3600")
        poll(engine, settings(server, max_backoff=60.0), sleep=waits.append)
        assert waits == [60.0]


def test_the_overlap_is_a_setting() -> None:
    with FhirServer() as server:
        assert settings(server, overlap=timedelta(seconds=5)).overlap.total_seconds() == 5
