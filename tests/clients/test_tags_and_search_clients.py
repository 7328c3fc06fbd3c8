"""Tags and search from the SDK (``PieClient`` and ``AsyncPieClient``) and from ``pie``, against a
real ``pie-local serve``: filters and order over pages, tags at creation and on their routes
(never cutting a version), If-Match, and a bad filter's 400 with its position."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
from collections.abc import Callable

import pytest

from pie_client import AsyncPieClient, BadRequest, Conflict, NotFound, PieClient
from pie_client.cli import filter_caret
from tests.clients.handlers import WAITING, new_id
from tests.clients.test_pie_cli import assert_one_line_error
from tests.clients.test_pie_cli import pie as run_pie
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cli(server: LocalServer, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    return functools.partial(run_pie, server, PIE_TOKEN=token)


def ok(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, (completed.stdout, completed.stderr)
    return completed


def three_models(pie: PieClient) -> tuple[str, list[str]]:
    """Three models named under a prefix of their own, two of them tagged team=pricing."""
    prefix = new_id("search")
    ids = []
    for index, team in enumerate(["pricing", "search", "pricing"]):
        model_id = f"{prefix}-{index}"
        pie.create_model(model_id, name=f"{prefix}-{'cba'[index]}", handlers=WAITING, tags={"team": team})
        ids.append(model_id)
    return prefix, ids


def test_search_models_reads_every_page_of_a_filter_in_the_order_asked(pie: PieClient):
    prefix, ids = three_models(pie)
    flt = f"name LIKE '{prefix}%' AND tags.team = 'pricing'"

    by_name = [model.id for model in pie.search_models(flt, order_by="name ASC", page_size=1)]
    by_name_desc = [model.id for model in pie.search_models(flt, order_by="name DESC", page_size=1)]
    everything = [model.id for model in pie.search_models(f"name LIKE '{prefix}%'", page_size=2)]
    page = pie.list_models(filter=flt, order_by="name", limit=1)

    assert by_name == [ids[2], ids[0]]  # names ...-a, ...-c
    assert by_name_desc == [ids[0], ids[2]]
    assert sorted(everything) == sorted(ids)
    assert len(page.models) <= 1 and page.next_token is not None


def test_a_filter_that_does_not_parse_is_a_bad_request_naming_its_position(pie: PieClient):
    with pytest.raises(BadRequest) as refused:
        list(pie.search_models("name = 'a' OR name = 'b'"))

    assert refused.value.status == 400
    assert "(at position 11)" in refused.value.message


def test_tags_are_set_and_deleted_without_cutting_a_version_and_if_match_guards_them(pie: PieClient):
    model_id = new_id("tags")
    created = pie.create_model(model_id, name="Tagged", handlers=WAITING, tags={"team": "pricing"})
    pie.set_version_status(model_id, "1", "training")
    pie.set_version_status(model_id, "1", "active")  # an active model: an update would cut version 2

    tagged = pie.set_model_tag(model_id, "stage", "prod")
    with pytest.raises(Conflict):
        pie.set_model_tag(model_id, "stage", "dev", if_match=created.model.entity_version)
    retagged = pie.set_model_tag(model_id, "stage", "canary", if_match=tagged.entity_version)
    pie.delete_model_tag(model_id, "team")
    version = pie.set_version_tag(model_id, "latest", "quality", "good")
    pie.set_version_tag(model_id, "1", "reviewed", "yes")
    pie.delete_version_tag(model_id, "1", "quality")
    # The deletes bumped both entity_versions: the client forgot the ones it had seen, so its
    # automatic If-Match does not refuse the next change as stale.
    pie.set_version_status(model_id, "1", "failed", status_message="after the tag changes")
    model = pie.get_model(model_id)
    versions = list(pie.iter_versions(model_id))

    assert created.model.tags == {"team": "pricing"}
    assert tagged.tags == {"team": "pricing", "stage": "prod"}
    assert retagged.entity_version == tagged.entity_version + 1
    assert version.version == "1" and version.tags == {"quality": "good"}
    assert model.tags == {"stage": "canary"}
    assert [(v.version, v.tags) for v in versions] == [("1", {"reviewed": "yes"})]  # no version cut
    with pytest.raises(NotFound):
        pie.delete_model_tag(model_id, "team")


def test_versions_are_created_with_tags_and_searched(pie: PieClient):
    model_id = new_id("vsearch")
    pie.create_model(model_id, name="Versions", handlers=WAITING)
    pie.create_version(model_id, "2", tags={"stage": "prod"})
    pie.create_version(model_id, "3", tags={"stage": "dev"})
    pie.create_version(model_id, "4", tags={"stage": "prod"})

    prod = [v.version for v in pie.search_versions(model_id, "tags.stage = 'prod'", page_size=1)]
    oldest_first = [v.version for v in pie.search_versions(model_id, order_by="created_at ASC")]
    one = pie.list_versions(model_id, filter="version = '3'")

    assert prod == ["4", "2"]
    assert oldest_first == ["1", "2", "3", "4"]
    assert [v.version for v in one.versions] == ["3"]


def test_the_async_client_searches_and_tags_with_await(pie: PieClient, server: LocalServer, token: str):
    prefix, ids = three_models(pie)

    async def scenario() -> tuple[list[str], list[str], dict[str, str]]:
        async with AsyncPieClient(server.url, token) as client:
            found = [model.id async for model in client.search_models(f"name LIKE '{prefix}%'", order_by="name")]
            await client.set_model_tag(ids[1], "team", "pricing")
            pricing = [
                model.id
                async for model in client.search_models(
                    f"tags.team = 'pricing' AND name LIKE '{prefix}%'", order_by="name DESC", page_size=1
                )
            ]
            version = await client.set_version_tag(ids[0], "1", "k", "v")
            await client.delete_version_tag(ids[0], "1", "k")
            return found, pricing, version.tags

    found, pricing, version_tags = asyncio.run(scenario())

    assert found == [ids[2], ids[1], ids[0]]
    assert pricing == [ids[0], ids[1], ids[2]]
    assert version_tags == {"k": "v"}
    assert pie.get_version(ids[0], "1").version.tags == {}


def test_pie_lists_with_filter_and_order_and_sets_lists_and_deletes_tags(pie: PieClient, cli):
    prefix, ids = three_models(pie)
    flt = f"name LIKE '{prefix}%' AND tags.team = 'pricing'"

    listed = json.loads(ok(cli("models", "list", "--filter", flt, "--order-by", "name DESC", "-o", "json")).stdout)
    table = ok(cli("models", "list", "--filter", flt)).stdout
    tagged = json.loads(ok(cli("tags", "set", ids[1], "team", "pricing", "-o", "json")).stdout)
    tag_table = ok(cli("tags", "set", ids[1], "owner", "ana")).stdout
    stale = cli("tags", "set", ids[1], "owner", "bob", "--if-match", str(tagged["entity_version"]))
    version = json.loads(ok(cli("tags", "set", ids[1], "stage", "prod", "--version", "latest", "-o", "json")).stdout)
    model_tags = json.loads(ok(cli("tags", "list", ids[1], "-o", "json")).stdout)
    version_tags = ok(cli("tags", "list", ids[1], "--version", "1")).stdout
    deleted = json.loads(ok(cli("-o", "json", "tags", "delete", ids[1], "owner")).stdout)
    ok(cli("tags", "delete", ids[1], "stage", "--version", "1"))
    missing = cli("tags", "delete", ids[1], "owner")
    now = json.loads(ok(cli("models", "list", "--filter", flt, "--order-by", "name", "-o", "json")).stdout)
    versions = json.loads(
        ok(
            cli("versions", "list", ids[1], "--filter", "status = 'pending'", "--order-by", "created_at", "-o", "json")
        ).stdout
    )

    assert [model["id"] for model in listed] == [ids[0], ids[2]]
    assert ids[0] in table and ids[2] in table and ids[1] not in table
    assert tagged["id"] == ids[1] and tagged["tags"] == {"team": "pricing"}
    assert "KEY" in tag_table and "owner" in tag_table and "ana" in tag_table
    assert "409" in assert_one_line_error(stale, 1)
    assert (version["version"], version["tags"]) == ("1", {"stage": "prod"})
    assert model_tags == {"team": "pricing", "owner": "ana"}
    assert "stage" in version_tags and "prod" in version_tags
    assert deleted == {"deleted": "tag", "id": "owner"}
    assert_one_line_error(missing, 1)
    assert [model["id"] for model in now] == [ids[2], ids[1], ids[0]]
    assert [v["version"] for v in versions] == ["1"] and versions[0]["tags"] == {}
    assert pie.get_model(ids[1]).latest_version == "1"


def test_pie_shows_a_bad_filter_as_one_line_naming_the_position_and_exits_1(cli):
    refused = cli("models", "list", "--filter", "name = 'a' OR name = 'b'")
    refused_versions = cli("versions", "list", "no-such-model", "--filter", "tags.x = ")

    assert "(at position 11)" in assert_one_line_error(refused, 1)
    assert_one_line_error(refused_versions, 1)


def test_the_caret_stands_under_the_position_the_server_names():
    message = "filter: expected AND (only AND joins comparisons), found 'OR' (at position 11)"

    assert filter_caret("name = 'a' OR name = 'b'", message) == "  name = 'a' OR name = 'b'\n             ^"
    assert filter_caret("x", "filter: ended early (at position 40)") == "  x\n   ^"  # at most the end
    assert filter_caret("x", "order_by: unknown field (at position 0)") is None
    assert filter_caret("x", "model 'm' not found") is None
