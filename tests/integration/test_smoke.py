from tests.factories import make_org, make_user
from tests.integration.conftest import bearer, login


async def test_signed_in_user_sees_themselves(client, hub):
    org = await make_org(hub)
    account = await make_user(hub, org)
    token = await login(client, hub, account)
    response = await client.get("/api/v1/me", headers=bearer(token))
    assert response.status == 200
    body = await response.json()
    assert body["username"] == account.username
