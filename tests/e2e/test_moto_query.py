"""DynamoDB Queries against the embedded moto: listing only the partition read gives
exactly what moto's own Query gives, on tables and indexes, page by page."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from emulator.controlplane import ControlPlane

PARTITIONS = ["room#1", "room#2", "room#3", "room#10", "r"]


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    """A client of a control plane of this module's own, its two tables filled."""
    plane = ControlPlane()
    plane.start()
    try:
        target = plane.new_account("us-east-1")
        client = target.session.client("dynamodb", endpoint_url=target.endpoint_url)
        _fill(client)
        yield client
    finally:
        plane.stop()


def _fill(client: Any) -> None:
    """``ranged``: partition and sort key, a global index on (gsi, when) most items have
    and a local one on (pk, weight); ``plain``: a numeric partition key alone, an index on
    ``colour``; both written in no particular order."""
    client.create_table(
        TableName="ranged",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in (
                ("pk", "S"),
                ("sk", "S"),
                ("gsi", "S"),
                ("when", "N"),
                ("weight", "N"),
            )
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byWeight",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "weight", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byGsi",
                "KeySchema": [
                    {"AttributeName": "gsi", "KeyType": "HASH"},
                    {"AttributeName": "when", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="plain",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "N"},
            {"AttributeName": "colour", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byColour",
                "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    chance = random.Random(23)
    for n in range(150):
        item: dict[str, Any] = {
            "pk": {"S": chance.choice(PARTITIONS)},
            "sk": {"S": f"{chance.randrange(10**6):07d}#{n}"},
            "weight": {"N": str(chance.randrange(-50, 50))},
            "text": {"S": chance.choice(["a", "bb", "é"])},
        }
        if n % 7:  # the rest are not in the index
            item["gsi"] = {"S": chance.choice(["g1", "g2"])}
            item["when"] = {"N": str(chance.randrange(20))}  # ties: the table's keys decide
        client.put_item(TableName="ranged", Item=item)
    ids = list(range(60))
    chance.shuffle(ids)
    for n in ids:
        colour = {"colour": {"S": chance.choice(["red", "blue"])}} if n % 5 else {}
        client.put_item(TableName="plain", Item={"id": {"N": str(n * 3)}, **colour})


QUERIES: dict[str, dict[str, Any]] = {
    "partition": {"KeyConditionExpression": "pk = :p", "Values": {":p": {"S": "room#1"}}},
    "missing partition": {
        "KeyConditionExpression": "pk = :p",
        "Values": {":p": {"S": "room#9"}},
    },
    "sort key range, descending": {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "Values": {":p": {"S": "room#2"}, ":a": {"S": "02"}, ":b": {"S": "07"}},
        "ScanIndexForward": False,
    },
    "begins_with, filter, projection": {
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
        "FilterExpression": "weight > :z",
        "ProjectionExpression": "sk, weight",
        "Values": {":p": {"S": "room#10"}, ":s": {"S": "0"}, ":z": {"N": "0"}},
    },
    "count": {
        "KeyConditionExpression": "pk = :p AND sk > :s",
        "Select": "COUNT",
        "Values": {":p": {"S": "r"}, ":s": {"S": "03"}},
    },
    "index": {
        "IndexName": "byGsi",
        "KeyConditionExpression": "gsi = :g",
        "Values": {":g": {"S": "g1"}},
    },
    "index range, descending, filter": {
        "IndexName": "byGsi",
        "KeyConditionExpression": "gsi = :g AND #w BETWEEN :a AND :b",
        "FilterExpression": "pk <> :p",
        "Names": {"#w": "when"},
        "Values": {":g": {"S": "g2"}, ":a": {"N": "3"}, ":b": {"N": "15"}, ":p": {"S": "r"}},
        "ScanIndexForward": False,
    },
    "numeric partition": {
        "Table": "plain",
        "KeyConditionExpression": "id = :i",
        "Values": {":i": {"N": "42.0"}},  # the number 42, however written
    },
    "local index, descending": {
        "IndexName": "byWeight",
        "KeyConditionExpression": "pk = :p AND weight >= :w",
        "Values": {":p": {"S": "room#3"}, ":w": {"N": "-10"}},
        "ScanIndexForward": False,
    },
    "keys-only index": {
        "Table": "plain",
        "IndexName": "byColour",
        "KeyConditionExpression": "colour = :c",
        "Values": {":c": {"S": "red"}},
    },
}


def pages(dynamodb: Any, query: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
    """Every page of ``query``, ``limit`` items a page (None: as many as fit)."""
    asked = {key: value for key, value in query.items() if key not in ("Values", "Names")}
    asked["TableName"] = asked.pop("Table", "ranged")
    asked["ExpressionAttributeValues"] = query["Values"]
    if "Names" in query:
        asked["ExpressionAttributeNames"] = query["Names"]
    if limit:
        asked["Limit"] = limit
    answers = []
    while True:
        answer = dynamodb.query(**asked)
        answer.pop("ResponseMetadata")
        answers.append(answer)
        if "LastEvaluatedKey" not in answer:
            return answers
        asked["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


@pytest.mark.parametrize("limit", [None, 4])
@pytest.mark.parametrize("name", list(QUERIES))
def test_a_query_answers_as_moto_alone_does(
    dynamodb: Any, name: str, limit: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each kind of Query, in one page and in pages of 4, gives what moto's own gives."""
    query = QUERIES[name]
    listed = pages(dynamodb, query, limit)
    with monkeypatch.context() as moto_alone:
        moto_alone.setattr(Table, "query", Table.query.__wrapped__)  # type: ignore[attr-defined]
        assert listed == pages(dynamodb, query, limit)
    if name not in ("missing partition", "count"):
        assert any(page.get("Items") for page in listed)  # the query reads something


def test_a_query_of_the_table_lists_only_its_partition(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's listing of the whole table, sorted, is not made for a Query any more."""
    listings: list[str] = []
    whole = Table.all_items

    def counted(table: Table) -> Any:
        listings.append(table.name)
        return whole(table)

    monkeypatch.setattr(Table, "all_items", counted)
    pages(dynamodb, QUERIES["partition"], 3)
    pages(dynamodb, QUERIES["index"], None)
    assert listings == []
    dynamodb.scan(TableName="plain")  # a Scan still lists the table
    assert listings == ["plain"]


def test_a_query_moto_refuses_leaves_the_table_as_it_was(dynamodb: Any) -> None:
    """The listing stands in for one call only, whether the Query answers or fails."""
    with pytest.raises(dynamodb.exceptions.ClientError, match="Invalid index"):
        pages(dynamodb, {**QUERIES["index"], "IndexName": "byNothing"}, None)
    assert pages(dynamodb, QUERIES["partition"], None)[0]["Count"] > 0
    # moto keeps its tables in its backend: none is left with a listing of its own.
    tables = [
        table
        for accounts in dynamodb_backends.values()
        for backend in accounts.values()
        for table in backend.tables.values()
    ]
    assert tables
    assert not any("all_items" in vars(table) for table in tables)
