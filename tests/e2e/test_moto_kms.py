"""DynamoDB's default KMS key in the embedded control plane: chosen without loading moto's
KMS, made in KMS with the id the tables name as soon as KMS is loaded.

Run in a process of its own: whether moto's KMS module is loaded is what is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
from emulator.controlplane import ControlPlane

plane = ControlPlane()
plane.start()
target = plane.new_account("us-east-1")
seen = {}

def client(service, region):
    return target.session.client(service, endpoint_url=target.endpoint_url, region_name=region)

def table(name, region):
    client("dynamodb", region).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True},
    )
    sse = client("dynamodb", region).describe_table(TableName=name)["Table"]["SSEDescription"]
    return sse["KMSMasterKeyArn"]

seen["east"] = [table("a", "us-east-1"), table("b", "us-east-1")]
seen["west"] = table("c", "eu-west-1")
seen["kms_loaded_after_tables"] = "moto.kms.models" in sys.modules
keys = {r: client("kms", r).describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]
        for r in ("us-east-1", "eu-west-1")}
seen["kms_arns"] = {r: k["Arn"] for r, k in keys.items()}
seen["aliases"] = [a["AliasName"] for a in client("kms", "us-east-1").list_aliases()["Aliases"]]
seen["later"] = table("d", "us-west-2")  # KMS loaded: moto's own path
seen["later_kms"] = client("kms", "us-west-2").describe_key(KeyId="alias/aws/dynamodb")[
    "KeyMetadata"]["Arn"]
kms = client("kms", "us-east-1")
rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
signature = kms.sign(KeyId=rsa, Message=b"hello", SigningAlgorithm="RSASSA_PSS_SHA_256")
seen["verified"] = kms.verify(
    KeyId=rsa, Message=b"hello", Signature=signature["Signature"],
    SigningAlgorithm="RSASSA_PSS_SHA_256")["SignatureValid"]
plane.stop()
print(json.dumps(seen))
"""


def test_the_default_key_is_chosen_without_kms_and_made_when_kms_is_loaded() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=os.environ, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    east_a, east_b = seen["east"]
    assert east_a == east_b  # one default key per account and region, as on AWS
    assert east_a.startswith("arn:aws:kms:us-east-1:")
    assert ":key/" in east_a
    assert seen["west"].startswith("arn:aws:kms:eu-west-1:")
    assert seen["west"] != east_a
    assert seen["kms_loaded_after_tables"] is False
    # KMS, once asked, has the very keys the tables name, under the managed alias.
    assert seen["kms_arns"] == {"us-east-1": east_a, "eu-west-1": seen["west"]}
    assert "alias/aws/dynamodb" in seen["aliases"]
    assert seen["later"] == seen["later_kms"]
    assert seen["later"].startswith("arn:aws:kms:us-west-2:")
    assert seen["verified"] is True  # a key's private key, made on first use, signs
