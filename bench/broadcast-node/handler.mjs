// The benchmark's workload in Node.js: bench/broadcast/handler.py, line for line, on
// the AWS SDK for JavaScript v3, as people write it for nodejs20.x.
//
// A connection table keyed by connectionId holds each socket's room (?room= on
// connect); the byRoom index finds a room's sockets. A broadcast is posted to each
// socket of the room, one PostToConnection after another; a gone one is deleted.
// The @connections endpoint comes from the event's domainName and stage, as on AWS;
// CONNECTIONS_ENDPOINT overrides it for emulators whose events name no reachable one.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { ApiGatewayManagementApiClient, GoneException, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";

const table = process.env.CONNECTIONS_TABLE;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const clients = new Map();

function management(context) {
  const endpoint = process.env.CONNECTIONS_ENDPOINT || `https://${context.domainName}/${context.stage}`;
  if (!clients.has(endpoint)) clients.set(endpoint, new ApiGatewayManagementApiClient({ endpoint }));
  return clients.get(endpoint);
}

export const connect = async (event) => {
  const room = event.queryStringParameters?.room ?? "lobby";
  await documents.send(new PutCommand({ TableName: table, Item: { connectionId: event.requestContext.connectionId, room } }));
  return { statusCode: 200 };
};

export const disconnect = async (event) => {
  await documents.send(new DeleteCommand({ TableName: table, Key: { connectionId: event.requestContext.connectionId } }));
  return { statusCode: 200 };
};

async function receivers(room) {
  const ids = [];
  let start;
  do {
    const page = await documents.send(
      new QueryCommand({
        TableName: table,
        IndexName: "byRoom",
        KeyConditionExpression: "room = :r",
        ExpressionAttributeValues: { ":r": room },
        ProjectionExpression: "connectionId",
        ExclusiveStartKey: start,
      }),
    );
    ids.push(...page.Items.map((item) => String(item.connectionId)));
    start = page.LastEvaluatedKey;
  } while (start);
  return ids;
}

export const broadcast = async (event) => {
  const body = JSON.parse(event.body || "{}");
  const data = Buffer.from(String(body.data ?? ""));
  const gateway = management(event.requestContext);
  for (const connectionId of await receivers(String(body.room ?? "lobby"))) {
    try {
      await gateway.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
    } catch (error) {
      if (!(error instanceof GoneException)) throw error;
      await documents.send(new DeleteCommand({ TableName: table, Key: { connectionId } }));
    }
  }
  return { statusCode: 200 };
};
