"""The real endpoints against the OpenAPI document (schemathesis, bounded examples)."""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from portal.openapi import document
from tests.api.test_api import make_key

schema = schemathesis.openapi.from_dict(document("http://portal.test"))


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_document(case, app):
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    try:
        _, raw = make_key()
        case.operation.schema.app = app  # the checks' own probes go to the app too
        # a cursor is opaque: a string the schema allows is still not one of ours (400)
        excluded = [positive_data_acceptance] if (case.query or {}).get("cursor") else []
        case.call_and_validate(
            app=app, headers={"Authorization": f"Bearer {raw}"}, excluded_checks=excluded
        )
    finally:
        app.config.pop("API_RATE_LIMIT", None)
