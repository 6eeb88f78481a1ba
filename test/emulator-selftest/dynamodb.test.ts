import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { buildAwsFixture } from "../support/aws-fixture.js";
import { useEmulator } from "./helpers.js";

const { aws } = useEmulator();

describe("DynamoDB conditional writes", () => {
  it("lets exactly one writer create an item and one updater win a versioned race", async () => {
    const fx = await buildAwsFixture(aws());
    const TableName = fx.stateTableName!;
    const create = (owner: string) =>
      aws().dynamo.send(
        new PutItemCommand({
          TableName,
          Item: { pk: { S: "lock#app/gatewaypix-alb" }, owner: { S: owner }, version: { N: "1" } },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    const first = await Promise.allSettled([create("a"), create("b")]);
    expect(first.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = first.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(ConditionalCheckFailedException);

    const bump = (owner: string) =>
      aws().dynamo.send(
        new UpdateItemCommand({
          TableName,
          Key: { pk: { S: "lock#app/gatewaypix-alb" } },
          UpdateExpression: "SET #o = :o, version = :next",
          ConditionExpression: "version = :expected",
          ExpressionAttributeNames: { "#o": "owner" },
          ExpressionAttributeValues: { ":o": { S: owner }, ":next": { N: "2" }, ":expected": { N: "1" } },
        }),
      );
    const race = await Promise.allSettled([bump("c"), bump("d")]);
    expect(race.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const winner = race[0]!.status === "fulfilled" ? "c" : "d";
    const item = await aws().dynamo.send(
      new GetItemCommand({ TableName, Key: { pk: { S: "lock#app/gatewaypix-alb" } }, ConsistentRead: true }),
    );
    expect(item.Item).toMatchObject({ owner: { S: winner }, version: { N: "2" } });
  });
});
