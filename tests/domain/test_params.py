"""Numbers typed into URLs and forms: only plain digits within bounds count."""

from portal.domain.params import MAX_ID, ids, whole


def test_whole_takes_plain_digits_within_bounds_only():
    assert whole("42") == 42
    assert whole("0") is None and whole("0", low=0) == 0
    assert whole("²") is None and whole("٣") is None  # isdigit() says yes, int() no
    assert whole(str(MAX_ID + 1)) is None and whole("9" * 30) is None
    assert whole("-1") is None and whole(" 1") is None and whole("") is None
    assert whole(None) is None and whole(True) is None and whole(7) == 7
    assert ids(["3", "x", "²", "5", "99999999999999"]) == [3, 5]


def test_odd_numbers_in_urls_are_refused_cleanly(app, client):
    from tests.admin.test_admin import admin_login
    from tests.conftest import english_client, login_as
    from tests.factories import create_admin, create_debtor

    login_as(client, create_debtor())
    create_admin("boss@example.com")
    admin = english_client(app)
    admin_login(admin, "boss@example.com")
    for value in ("²", "9" * 30, "-3"):
        response = client.get("/pay", query_string={"instalment": value})
        assert response.status_code == 422, value  # nothing to pay, said in words
        for path in ("/admin/plans", "/admin/requests", "/admin/payments", "/admin/debtors"):
            assert admin.get(path, query_string={"page": value}).status_code == 200, path
