/** Events as AWS delivers them to the guard: EventBridge alarm changes, SNS-wrapped alarms, the schedule. */

export function alarmEvent(
  name: string,
  state = "ALARM",
  reason = "Threshold Crossed: 1 datapoint [3.1] > 2.0",
) {
  return {
    version: "0",
    id: "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    source: "aws.cloudwatch",
    account: "123456789012",
    time: "2026-11-26T03:00:00Z",
    region: "sa-east-1",
    resources: [`arn:aws:cloudwatch:sa-east-1:123456789012:alarm:${name}`],
    detail: {
      alarmName: name,
      state: { value: state, reason, timestamp: "2026-11-26T03:00:00.000+0000" },
      previousState: { value: "OK", reason: "", timestamp: "2026-11-26T02:00:00.000+0000" },
    },
  };
}

export function snsAlarmEvent(name: string, state = "ALARM") {
  return {
    Records: [
      {
        EventSource: "aws:sns",
        EventVersion: "1.0",
        Sns: {
          Type: "Notification",
          Subject: `ALARM: "${name}" in South America (Sao Paulo)`,
          Message: JSON.stringify({
            AlarmName: name,
            NewStateValue: state,
            NewStateReason: "Threshold Crossed",
            OldStateValue: "OK",
            AlarmArn: `arn:aws:cloudwatch:sa-east-1:123456789012:alarm:${name}`,
          }),
        },
      },
    ],
  };
}

export const SCHEDULE_EVENT = {
  version: "0",
  id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "123456789012",
  time: "2026-11-26T03:05:00Z",
  region: "sa-east-1",
  resources: ["arn:aws:events:sa-east-1:123456789012:rule/gatewaypix-gray-deploy-guard-schedule"],
  detail: {},
};
