"""The shop's outgoing webhook endpoints through the API: added with a secret shown once,
listed with their last delivery, removed; another shop's are 404; bad URLs 422."""

from __future__ import annotations

from tests.db.api.conftest import Api, assert_problem

HOOK = "https://pos.example.com/hooks"


async def test_endpoints_are_added_listed_and_removed(api: Api) -> None:
    made = await api.post("/webhooks", json={"url": HOOK})
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["secret"].startswith("whsec_") and created["last_status"] is None
    listed = (await api.get("/webhooks")).json()["items"]
    assert [item["url"] for item in listed] == [HOOK] and "secret" not in listed[0]
    assert (await api.get("/webhooks", key=api.other_key)).json()["items"] == []
    assert_problem(await api.post(f"/webhooks/{created['id']}/delete", key=api.other_key), 404)
    gone = await api.post(f"/webhooks/{created['id']}/delete")
    assert gone.status_code == 200 and gone.json()["items"] == []


async def test_a_url_we_would_not_deliver_to_is_422(api: Api) -> None:
    for url in ("http://pos.example.com/x", "not a url"):
        problem = assert_problem(await api.post("/webhooks", json={"url": url}), 422)
        assert problem["errors"][0]["loc"] == ["body", "url"]
    assert_problem(await api.post("/webhooks", json={}), 422)
