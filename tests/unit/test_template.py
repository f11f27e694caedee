"""Reading templates into stacks: intrinsics, parameters, names, resources and refusals."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from emulator.stack import API_ID, Throttle
from emulator.template import (
    LoadedTemplate,
    TemplateError,
    default_stack_name,
    generated_name,
    load,
)

ACCOUNT = "210987654321"


def api(**properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {
            "Name": "api",
            "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": "$request.body.action",
            **properties,
        },
    }


def function(handler: str = "app.handler", **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Code": "src", "Handler": handler, "Runtime": "python3.12", **properties},
    }


def integration(function_id: str, **properties: Any) -> dict[str, Any]:
    uri = {
        "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        f"${{{function_id}.Arn}}/invocations"
    }
    return {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": {"Ref": "Api"},
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": uri,
            **properties,
        },
    }


def route(key: str, integration_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {
            "ApiId": {"Ref": "Api"},
            "RouteKey": key,
            "Target": {"Fn::Join": ["/", ["integrations", {"Ref": integration_id}]]},
            **properties,
        },
    }


def minimal(**resources: Any) -> dict[str, Any]:
    """A WebSocket API with one function on $default, plus the given resources."""
    return {
        "Resources": {
            "Api": api(),
            "Fn": function(),
            "FnIntegration": integration("Fn"),
            "DefaultRoute": route("$default", "FnIntegration"),
            **resources,
        }
    }


def read(tmp_path: Path, template: dict[str, Any], **options: Any) -> LoadedTemplate:
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    options.setdefault("stack_name", "unit")
    return load(path, account_id=ACCOUNT, work_dir=tmp_path / "work", **options)


def env(loaded: LoadedTemplate, name: str = "Fn") -> dict[str, str]:
    return dict(next(f for f in loaded.stack.all_functions if f.name == name).environment)


def test_intrinsic_functions_resolve(tmp_path: Path) -> None:
    """Sub, Join, Select, Split, If, FindInMap, GetAtt and pseudo parameters resolve."""
    template = minimal()
    template["Mappings"] = {"Sizes": {"us-east-1": {"small": "64"}}}
    template["Conditions"] = {"Yes": {"Fn::Equals": ["a", "a"]}}
    template["Resources"]["Fn"]["Properties"]["Environment"] = {
        "Variables": {
            "SUB": {"Fn::Sub": "${AWS::Region}/${AWS::AccountId}/${AWS::StackName}/${!Literal}"},
            "SUB_VARS": {"Fn::Sub": ["${x}-${y}", {"x": "one", "y": {"Ref": "AWS::Partition"}}]},
            "JOIN": {"Fn::Join": [",", ["a", "b", "c"]]},
            "SELECT": {"Fn::Select": [1, {"Fn::Split": ["/", "p/q/r"]}]},
            "IF": {"Fn::If": ["Yes", "chosen", "not"]},
            "MAP": {"Fn::FindInMap": ["Sizes", {"Ref": "AWS::Region"}, "small"]},
            "ARN": {"Fn::GetAtt": ["Fn", "Arn"]},
            "ENDPOINT": {"Fn::GetAtt": ["Api", "ApiEndpoint"]},
            "API": {"Ref": "Api"},
            "FLAG": True,
        }
    }
    loaded = read(tmp_path, template)
    variables = env(loaded)
    name = generated_name("unit", "Fn", 64)
    assert variables == {
        "SUB": f"us-east-1/{ACCOUNT}/unit/${{Literal}}",
        "SUB_VARS": "one-aws",
        "JOIN": "a,b,c",
        "SELECT": "q",
        "IF": "chosen",
        "MAP": "64",
        "ARN": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
        "ENDPOINT": f"wss://{API_ID}.execute-api.us-east-1.amazonaws.com",
        "API": API_ID,
        "FLAG": "true",
    }


def test_parameters_take_defaults_overrides_and_allowed_values(tmp_path: Path) -> None:
    """Overrides win over defaults; AllowedValues and unknown names are refused."""
    template = minimal()
    template["Parameters"] = {
        "Mode": {"Type": "String", "Default": "slow", "AllowedValues": ["slow", "fast"]},
        "Names": {"Type": "CommaDelimitedList", "Default": "a, b"},
    }
    template["Resources"]["Fn"]["Properties"]["Environment"] = {
        "Variables": {
            "MODE": {"Ref": "Mode"},
            "SECOND": {"Fn::Select": [1, {"Ref": "Names"}]},
        }
    }
    assert env(read(tmp_path, template)) == {"MODE": "slow", "SECOND": "b"}
    assert env(read(tmp_path, template, parameters={"Mode": "fast"}))["MODE"] == "fast"
    with pytest.raises(TemplateError, match="Mode='medium' is not one of slow, fast"):
        read(tmp_path, template, parameters={"Mode": "medium"})
    with pytest.raises(TemplateError, match="names Other, which the template doesn't declare"):
        read(tmp_path, template, parameters={"Other": "x"})
    del template["Parameters"]["Mode"]["Default"]
    with pytest.raises(TemplateError, match="pass --parameter-overrides Mode=<value>"):
        read(tmp_path, template)


def test_a_resource_whose_condition_is_false_is_left_out(tmp_path: Path) -> None:
    """Conditions decide which resources exist, as CloudFormation's do."""
    template = minimal(
        Extra={
            "Type": "AWS::DynamoDB::Table",
            "Condition": "WantExtra",
            "Properties": {
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
        }
    )
    template["Parameters"] = {"Extra": {"Type": "String", "Default": "no"}}
    template["Conditions"] = {"WantExtra": {"Fn::Equals": [{"Ref": "Extra"}, "yes"]}}
    assert read(tmp_path, template).stack.tables == ()
    assert len(read(tmp_path, template, parameters={"Extra": "yes"}).stack.tables) == 1


def test_names_follow_cloudformation_and_are_stable(tmp_path: Path) -> None:
    """A resource's own name property wins; otherwise {stack}-{LogicalId}-{SUFFIX}, the
    same on every run; bucket names are lower case."""
    template = minimal(
        Named={
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": {"Fn::Sub": "${AWS::StackName}-named"},
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
        },
        Files={"Type": "AWS::S3::Bucket"},
    )
    first, second = read(tmp_path, template), read(tmp_path, template)
    assert first.stack == second.stack
    assert first.stack.tables[0].name == "unit-named"
    assert first.tables == {"Named": "unit-named"}  # what tests look tables up by
    fn = first.stack.functions[0]
    assert first.stack.function_name(fn) == generated_name("unit", "Fn", 64)
    assert first.stack.function_name(fn).startswith("unit-Fn-")
    (bucket,) = first.stack.buckets
    assert bucket.startswith("unit-files-")
    assert bucket == bucket.lower()
    assert len(generated_name("s" * 80, "Logical", 64)) == 64


def test_key_types_and_both_kinds_of_index_are_read(tmp_path: Path) -> None:
    """Number and Binary keys, a global and a local index, TTL."""
    template = minimal(
        Events={
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "AttributeDefinitions": [
                    {"AttributeName": "room", "AttributeType": "S"},
                    {"AttributeName": "at", "AttributeType": "N"},
                    {"AttributeName": "digest", "AttributeType": "B"},
                    {"AttributeName": "author", "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": "room", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "byDigest",
                        "KeySchema": [{"AttributeName": "digest", "KeyType": "HASH"}],
                        "Projection": {
                            "ProjectionType": "INCLUDE",
                            "NonKeyAttributes": ["author"],
                        },
                    }
                ],
                "LocalSecondaryIndexes": [
                    {
                        "IndexName": "byAuthor",
                        "KeySchema": [
                            {"AttributeName": "room", "KeyType": "HASH"},
                            {"AttributeName": "author", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
                "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
            },
        }
    )
    (table,) = read(tmp_path, template).stack.tables
    assert (table.hash_key, table.range_key) == ("room", "at")
    assert dict(table.key_types) == {"at": "N", "digest": "B"}
    assert table.ttl_attribute == "expires"
    by_name = {i.name: i for i in table.indexes}
    assert by_name["byDigest"].local is False
    assert by_name["byDigest"].non_key_attributes == ("author",)
    assert by_name["byAuthor"].local is True
    assert by_name["byAuthor"].projection == "KEYS_ONLY"


def test_routes_two_way_content_handling_and_shared_functions(tmp_path: Path) -> None:
    """One function on several routes; a RouteResponse makes a route two-way."""
    template = minimal(
        BinaryIntegration=integration("Fn", ContentHandlingStrategy="CONVERT_TO_BINARY"),
        EchoRoute=route("echo", "FnIntegration"),
        EchoResponse={
            "Type": "AWS::ApiGatewayV2::RouteResponse",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "RouteId": {"Ref": "EchoRoute"},
                "RouteResponseKey": "$default",
            },
        },
        BlobRoute=route("blob", "BinaryIntegration"),
    )
    (fn,) = read(tmp_path, template).stack.functions
    routes = {r.key: r for r in fn.routes}
    assert set(routes) == {"$default", "echo", "blob"}
    assert routes["echo"].two_way is True
    assert routes["$default"].two_way is False
    assert routes["blob"].content_handling == "CONVERT_TO_BINARY"


def test_unknown_resources_are_reported_and_skipped(tmp_path: Path) -> None:
    """A type the emulator doesn't create is one line in ``skipped``; IAM is accepted."""
    template = minimal(
        Queue={"Type": "AWS::SQS::Queue"},
        Role={"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
    )
    loaded = read(tmp_path, template)
    assert loaded.skipped == ["Queue (AWS::SQS::Queue): not emulated, skipped"]


def test_inline_code_becomes_index_py(tmp_path: Path) -> None:
    """Code.ZipFile is written to index.py, as Lambda does for inline Python code."""
    template = minimal()
    template["Resources"]["Fn"]["Properties"]["Code"] = {"ZipFile": "def handler(e, c): pass\n"}
    (fn,) = read(tmp_path, template).stack.functions
    assert fn.code is not None
    assert (fn.code / "index.py").read_text() == "def handler(e, c): pass\n"


def test_stage_is_the_templates_or_the_one_asked_for(tmp_path: Path) -> None:
    """One stage is served by default; with several, --stage must choose one of them."""
    stage = {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"ApiId": {"Ref": "Api"}}}
    template = minimal(Prod={**stage, "Properties": {**stage["Properties"], "StageName": "prod"}})
    assert read(tmp_path, template).stack.stage == "prod"
    template["Resources"]["Dev"] = {
        **stage,
        "Properties": {**stage["Properties"], "StageName": "dev"},
    }
    with pytest.raises(TemplateError, match="stages prod, dev: choose one with --stage"):
        read(tmp_path, template)
    assert read(tmp_path, template, stage="dev").stack.stage == "dev"
    with pytest.raises(TemplateError, match="--stage beta"):
        read(tmp_path, template, stage="beta")


def test_two_websocket_apis_need_a_choice(tmp_path: Path) -> None:
    """With two WebSocket APIs, --api names the one to serve; HTTP APIs are skipped."""
    template = minimal(
        Other=api(Name="other"), Http={**api(), "Properties": {"ProtocolType": "HTTP"}}
    )
    with pytest.raises(TemplateError, match=r"2 WebSocket APIs \(Api, Other\)"):
        read(tmp_path, template)
    loaded = read(tmp_path, template, api="Api")
    assert loaded.stack.api_title == "api"
    assert "Http: only WebSocket APIs are served, skipped" in loaded.skipped


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["Resources"]["FnIntegration"]["Properties"].update(IntegrationType="MOCK"),
            "type MOCK; the emulator serves Lambda proxy integrations",
        ),
        (
            lambda t: t["Resources"]["Fn"]["Properties"].update(
                Code={"S3Bucket": "artifacts", "S3Key": "fn.zip"}
            ),
            r"its code is in S3 \(s3://artifacts/fn.zip\), and not on disk.*`sam build`",
        ),
        (
            lambda t: t["Resources"]["Fn"]["Properties"].update(
                Environment={"Variables": {"AWS_REGION": "eu-west-1"}}
            ),
            "AWS_REGION is reserved by Lambda",
        ),
        (
            lambda t: t["Resources"]["Fn"]["Properties"].update(
                Environment={"Variables": {"X": {"Fn::ImportValue": "shared-table"}}}
            ),
            "Fn::ImportValue 'shared-table': other stacks' exports are not available",
        ),
        (
            lambda t: t["Resources"]["DefaultRoute"]["Properties"].update(
                Target="integrations/abc"
            ),
            "Target must be integrations/ followed by a Ref",
        ),
        (
            lambda t: t["Resources"]["Api"]["Properties"].update(
                RouteSelectionExpression="${context.routeKey}"
            ),
            r"routes on \$request.body.<path>",
        ),
    ],
)
def test_what_the_emulator_cant_run_is_refused_with_advice(
    tmp_path: Path, change: Any, message: str
) -> None:
    """Each refusal names the resource and what to do instead."""
    template = minimal()
    change(template)
    with pytest.raises(TemplateError, match=message):
        read(tmp_path, template)


def test_sam_is_expanded_with_globals_and_local_code(tmp_path: Path) -> None:
    """SAM's Globals and a local CodeUri reach the expanded functions."""
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Globals": {"Function": {"Runtime": "python3.12", "Timeout": 7, "CodeUri": "src"}},
        "Resources": {
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "a.b"}},
            "Api": {
                "Type": "AWS::Serverless::WebSocketApi",
                "Properties": {
                    "RouteSelectionExpression": "$request.body.action",
                    "Routes": {"go": {"FunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]}}},
                },
            },
        },
    }
    loaded = read(tmp_path, template)
    (fn,) = loaded.stack.functions
    assert fn.timeout == 7
    assert fn.code == (tmp_path / "src").resolve()
    assert [r.key for r in fn.routes] == ["go"]
    assert loaded.stack.stage == "default"  # SAM's stage name when none is given


def test_stage_throttling_is_read_from_default_and_route_settings(tmp_path: Path) -> None:
    """DefaultRouteSettings become the stage's throttle; RouteSettings a route's own."""
    template = minimal(
        Stage={
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "StageName": "live",
                "DefaultRouteSettings": {"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5},
                "RouteSettings": {
                    "$default": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.5}
                },
            },
        }
    )
    stack = read(tmp_path, template).stack
    assert stack.throttle == Throttle(10, 5.0)
    assert stack.functions[0].routes[0].throttle == Throttle(1, 0.5)


def test_a_global_table_is_served_as_a_table_in_the_stacks_region(tmp_path: Path) -> None:
    """CDK's TableV2 (AWS::DynamoDB::GlobalTable): keys, index and TTL as a table's; its ARN
    resolves; replicas in other regions are reported, not made."""
    template = minimal(
        Connections={
            "Type": "AWS::DynamoDB::GlobalTable",
            "Properties": {
                "AttributeDefinitions": [
                    {"AttributeName": "id", "AttributeType": "S"},
                    {"AttributeName": "room", "AttributeType": "S"},
                ],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "byRoom",
                        "KeySchema": [{"AttributeName": "room", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
                "BillingMode": "PAY_PER_REQUEST",
                "Replicas": [{"Region": {"Ref": "AWS::Region"}}, {"Region": "eu-west-1"}],
            },
        }
    )
    template["Resources"]["Fn"]["Properties"]["Environment"] = {
        "Variables": {"TABLE": {"Ref": "Connections"}, "ARN": {"Fn::GetAtt": "Connections.Arn"}}
    }
    loaded = read(tmp_path, template)
    (table,) = loaded.stack.tables
    name = generated_name("unit", "Connections", 255)
    assert (table.name, table.hash_key, table.ttl_attribute) == (name, "id", "expiresAt")
    assert [i.name for i in table.indexes] == ["byRoom"]
    assert loaded.tables == {"Connections": name}
    assert env(loaded) == {
        "TABLE": name,
        "ARN": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}",
    }
    assert loaded.skipped == [
        "table Connections: only its us-east-1 replica is served (not eu-west-1)"
    ]


def test_custom_resources_and_their_providers_are_skipped_in_one_line_each(
    tmp_path: Path,
) -> None:
    """CDK's log retention and bucket auto-delete: each custom resource is one line, and a
    function that only provides them (Node.js here) is not deployed."""
    provider = function("index.handler", Runtime="nodejs22.x")
    token = {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]}}
    template = minimal(
        Provider=provider,
        Retention={"Type": "Custom::LogRetention", "Properties": {**token, "RetentionInDays": 7}},
        Empty={"Type": "AWS::CloudFormation::CustomResource", "Properties": token},
        Metadata={"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:x"}},
        Policy={"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {}}},
        BucketPolicy={"Type": "AWS::S3::BucketPolicy", "Properties": {}},
        Version={"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
    )
    loaded = read(tmp_path, template)
    assert [f.name for f in loaded.stack.all_functions] == ["Fn"]
    assert loaded.skipped == [
        "Retention (Custom::LogRetention): a custom resource; its provider is not run "
        "locally, skipped",
        "Empty (AWS::CloudFormation::CustomResource): a custom resource; its provider is not "
        "run locally, skipped",
        "Provider (AWS::Lambda::Function): the provider of custom resource(s) Retention, "
        "Empty, not deployed",
    ]


def test_the_functions_only_a_provider_calls_are_not_deployed_either(tmp_path: Path) -> None:
    """CDK's provider framework: the custom resource's provider (framework-onEvent) calls
    your onEvent function, named in its environment; neither is deployed. A function that
    the API's function also names stays."""
    framework = function(
        "framework.onEvent",
        Runtime="nodejs22.x",
        Environment={
            "Variables": {
                "USER_ON_EVENT_FUNCTION_ARN": {"Fn::GetAtt": ["OnEvent", "Arn"]},
                "SHARED": {"Fn::Sub": "${Shared.Arn}"},
            }
        },
    )
    template = minimal(
        Framework=framework,
        OnEvent=function("index.on_event", Runtime="nodejs22.x"),
        Shared=function("shared.handler"),
        Seed={
            "Type": "Custom::SeedTable",
            "Properties": {"ServiceToken": {"Fn::GetAtt": ["Framework", "Arn"]}},
        },
    )
    template["Resources"]["Fn"]["Properties"]["Environment"] = {
        "Variables": {"SHARED": {"Ref": "Shared"}}
    }
    loaded = read(tmp_path, template)
    assert sorted(f.name for f in loaded.stack.all_functions) == ["Fn", "Shared"]
    assert loaded.skipped[1:] == [
        "Framework (AWS::Lambda::Function): the provider of custom resource(s) Seed, not deployed",
        "OnEvent (AWS::Lambda::Function): named only by Framework, not deployed either",
    ]


def test_a_provider_the_api_uses_is_deployed(tmp_path: Path) -> None:
    """A function that provides a custom resource and also serves a route is deployed."""
    template = minimal(
        Retention={
            "Type": "Custom::Anything",
            "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}},
        }
    )
    loaded = read(tmp_path, template)
    assert [f.name for f in loaded.stack.functions] == ["Fn"]
    assert loaded.skipped == [
        "Retention (Custom::Anything): a custom resource; its provider is not run locally, skipped"
    ]


def test_packaged_code_is_not_installed_again(tmp_path: Path) -> None:
    """A source folder gets its requirements installed; a zip CodeUri and the folders of a
    template sam build wrote (SamResourceId) hold their dependencies already."""
    sam = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "src", "Handler": "a.b", "Runtime": "python3.12"},
            },
            "Api": {
                "Type": "AWS::Serverless::WebSocketApi",
                "Properties": {
                    "RouteSelectionExpression": "$request.body.action",
                    "Routes": {"go": {"FunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]}}},
                },
            },
        },
    }
    assert not read(tmp_path, sam).stack.functions[0].packaged
    sam["Resources"]["Fn"]["Metadata"] = {"SamResourceId": "Fn"}
    assert read(tmp_path, sam).stack.functions[0].packaged
    with zipfile.ZipFile(tmp_path / "deployment.zip", "w") as bundle:
        bundle.writestr("a.py", "def b(e, c): pass\n")
    sam["Resources"]["Fn"] = {**sam["Resources"]["Fn"], "Metadata": {}}
    sam["Resources"]["Fn"]["Properties"]["CodeUri"] = "./deployment.zip"
    loaded = read(tmp_path, sam)
    (fn,) = loaded.stack.functions
    assert fn.packaged
    assert fn.code is not None
    assert (fn.code / "a.py").is_file()
    # What --watch watches to read the stack again: the template and the zip.
    assert loaded.sources == [tmp_path / "template.json", (tmp_path / "deployment.zip")]


def test_a_cloud_assembly_is_read_under_its_stacks_name(tmp_path: Path) -> None:
    """load(cdk.out) reads the chosen stack's template, named as CDK named the stack, with
    its asset paths relative to the assembly; --stack on a template file is refused."""
    out = tmp_path / "cdk.out"
    (out / "asset.1").mkdir(parents=True)
    template = minimal()
    template["Resources"]["Fn"]["Properties"]["Code"] = {"S3Bucket": "b", "S3Key": "1.zip"}
    template["Resources"]["Fn"]["Metadata"] = {"aws:asset:path": "asset.1"}
    (out / "Chat.template.json").write_text(json.dumps(template))
    artifact = {
        "type": "aws:cloudformation:stack",
        "properties": {"templateFile": "Chat.template.json", "stackName": "chat-dev"},
    }
    (out / "manifest.json").write_text(json.dumps({"artifacts": {"Chat": artifact}}))
    loaded = load(out, work_dir=tmp_path / "work")
    assert loaded.stack.name == "chat-dev"
    assert loaded.stack.functions[0].code == (out / "asset.1").resolve()
    assert load(out, stack="Chat", work_dir=tmp_path / "work").stack.name == "chat-dev"
    with pytest.raises(TemplateError, match="--stack Chat: it chooses a stack of a CDK cloud"):
        load(out / "Chat.template.json", stack="Chat", work_dir=tmp_path / "work")
    with pytest.raises(TemplateError, match="is a folder: give a template file, or a CDK"):
        load(tmp_path, work_dir=tmp_path / "work")


def test_a_tools_output_folder_is_named_after_its_project(tmp_path: Path) -> None:
    """The default stack name is the template's folder, or the project's when a tool wrote
    the template into a folder of its own."""
    for folder in ("app", "app/.serverless", "app/.aws-sam/build", "app/cdk.out"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "template.json").write_text("{}")
    (tmp_path / "app" / "cdk.out" / "manifest.json").write_text("{}")
    for template in (
        "app/template.json",
        "app/.serverless/template.json",
        "app/.aws-sam/build/template.json",
        "app/cdk.out/template.json",
        "app/cdk.out",
    ):
        assert default_stack_name(tmp_path / template) == "app", template
    assert default_stack_name(tmp_path / "app" / "cdk.out" / ".." / "x.yaml") == "app"
