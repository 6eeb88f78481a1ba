/**
 * Lambda functions in the emulator for hook tests: a zip built here (stored entries: the format AWS
 * accepts) with a Node.js handler, an execution role, and CreateFunction through the real SDK. The
 * emulator runs the handler from that zip on Invoke (test/emulator/gray_emulator/lambda_invoke.py).
 */
import { crc32 } from "node:zlib";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import type { Emulator } from "./emulator.js";

/** A zip of `files` (name → text), entries stored uncompressed. */
export function zipOf(files: Readonly<Record<string, string>>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text, "utf8");
    const fileName = Buffer.from(name, "utf8");
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, data);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

/** Creates (once) the functions' execution role and returns its ARN. */
async function executionRole(emu: Emulator): Promise<string> {
  const iam = new IAMClient({ ...emu.clientConfig(), region: "us-east-1", maxAttempts: 1 });
  try {
    const out = await iam.send(
      new CreateRoleCommand({
        RoleName: "gray-deploy-hook-role",
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
          ],
        }),
      }),
    );
    return out.Role!.Arn!;
  } catch (e) {
    if ((e as { name?: string }).name !== "EntityAlreadyExistsException") throw e;
    return `arn:aws:iam::123456789012:role/gray-deploy-hook-role`;
  } finally {
    iam.destroy();
  }
}

/** Deploys a Node.js 20 function whose index.mjs is `source` (exporting `handler`); returns its ARN. */
export async function deployFunction(
  emu: Emulator,
  name: string,
  source: string,
  timeoutSeconds = 5,
): Promise<string> {
  const role = await executionRole(emu);
  const lambda = new LambdaClient({ ...emu.clientConfig(), maxAttempts: 1 });
  try {
    const out = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: "nodejs20.x",
        Handler: "index.handler",
        Role: role,
        Timeout: timeoutSeconds,
        Code: { ZipFile: zipOf({ "index.mjs": source }) },
      }),
    );
    return out.FunctionArn!;
  } finally {
    lambda.destroy();
  }
}
