/**
 * The answer AWS gives a request that breaks its rules: HTTP 400 with the error body of the service's
 * protocol, so the SDK raises the same typed error (name, message, $fault "client") as against AWS.
 *
 * - awsQuery (ELBv2, Auto Scaling, STS, IAM): `<ErrorResponse><Error><Type>Sender</Type>
 *   <Code>ValidationError</Code>…` (Auto Scaling and ELBv2 answer constraint failures with
 *   ValidationError and the "N validation error(s) detected: Value … at … failed to satisfy
 *   constraint: …" message).
 * - ec2: `<Response><Errors><Error><Code>InvalidParameterValue | MissingParameter | UnknownParameter`.
 * - JSON (DynamoDB, ECR): `{"__type": "…#ValidationException", "message": …}`.
 * - CloudWatch's JSON is query-compatible: the SDK takes the code from `x-amzn-query-error`
 *   (`ValidationError;Sender`, `InvalidParameterValue;Sender`, `MissingParameter;Sender`).
 * - rest-json (Lambda): `x-amzn-ErrorType` header and `{"message": …}`.
 */
import { randomUUID } from "node:crypto";
import { describeIssue, type Issue } from "./issues.js";
import type { WireProtocol } from "./wire.js";

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const xml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** "1 validation error detected: …" / "3 validation errors detected: …; …; …" */
export function validationMessage(issues: readonly Issue[]): string {
  const n = issues.length;
  return `${n} validation error${n === 1 ? "" : "s"} detected: ${issues.map(describeIssue).join("; ")}`;
}

export function refusal(protocol: WireProtocol, service: string, issues: readonly Issue[]): Answer {
  const requestId = randomUUID();
  const message = validationMessage(issues);
  const first = issues[0];
  if (protocol === "ec2") {
    const code =
      first?.kind === "missing"
        ? "MissingParameter"
        : first?.kind === "unknown"
          ? "UnknownParameter"
          : "InvalidParameterValue";
    return {
      status: 400,
      headers: { "content-type": "text/xml;charset=UTF-8" },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${xml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    };
  }
  if (protocol === "query") {
    return {
      status: 400,
      headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
      body: `<ErrorResponse xmlns="https://${service}.amazonaws.com/doc/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>${xml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  if (protocol === "rest-json") {
    return {
      status: 400,
      headers: {
        "content-type": "application/json",
        "x-amzn-requestid": requestId,
        "x-amzn-errortype": "InvalidParameterValueException",
      },
      body: JSON.stringify({ Type: "User", message }),
    };
  }
  // JSON 1.0 / 1.1 (and an unreadable request, answered as JSON).
  const headers: Record<string, string> = {
    "content-type": service === "ecr" ? "application/x-amz-json-1.1" : "application/x-amz-json-1.0",
    "x-amzn-requestid": requestId,
  };
  let type = "com.amazon.coral.validate#ValidationException";
  if (service === "monitoring") {
    // The modelled exceptions and their query codes (awsQueryError in CloudWatch's model).
    const [code, exception] =
      first?.kind === "missing"
        ? ["MissingParameter", "MissingRequiredParameterException"]
        : first?.kind === "rule"
          ? ["InvalidParameterValue", "InvalidParameterValueException"]
          : ["ValidationError", null];
    headers["x-amzn-query-error"] = `${code};Sender`;
    if (exception) type = `com.amazonaws.cloudwatch#${exception}`;
  }
  return { status: 400, headers, body: JSON.stringify({ __type: type, message }) };
}
