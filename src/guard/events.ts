/**
 * What invoked the guard, read from the event Lambda received. Pure: no I/O.
 *
 * - EventBridge "CloudWatch Alarm State Change" (source `aws.cloudwatch`): the module's alarm rule.
 * - SNS notifications of an alarm action (`Records[].Sns.Message`, the alarm's JSON): for accounts
 *   that route alarms through a topic instead of EventBridge.
 * - EventBridge "Scheduled Event" (source `aws.events`): the module's schedule.
 * Anything else is `unknown` and the guard does nothing with it.
 */

export type AlarmStateName = "OK" | "ALARM" | "INSUFFICIENT_DATA" | string;

export interface AlarmTrigger {
  readonly kind: "alarm";
  readonly alarmName: string;
  readonly state: AlarmStateName;
  readonly reason: string;
  readonly via: "eventbridge" | "sns";
}

export interface ScheduleTrigger {
  readonly kind: "schedule";
}

export interface UnknownTrigger {
  readonly kind: "unknown";
  readonly why: string;
}

export type GuardTrigger = AlarmTrigger | ScheduleTrigger | UnknownTrigger;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Every trigger in the event (an SNS delivery may batch several records). */
export function parseGuardEvent(event: unknown): GuardTrigger[] {
  if (!isObject(event)) return [{ kind: "unknown", why: "the event is not a JSON object" }];
  const detailType = str(event["detail-type"]);
  const source = str(event.source);
  if (detailType === "Scheduled Event" && source === "aws.events") return [{ kind: "schedule" }];
  if (detailType === "CloudWatch Alarm State Change" && source === "aws.cloudwatch") {
    const detail = isObject(event.detail) ? event.detail : {};
    const state = isObject(detail.state) ? detail.state : {};
    const alarmName = str(detail.alarmName);
    const value = str(state.value);
    if (alarmName === undefined || value === undefined) {
      return [
        { kind: "unknown", why: "an alarm state change without detail.alarmName or detail.state.value" },
      ];
    }
    return [{ kind: "alarm", alarmName, state: value, reason: str(state.reason) ?? "", via: "eventbridge" }];
  }
  if (Array.isArray(event.Records)) {
    const triggers: GuardTrigger[] = [];
    for (const record of event.Records as unknown[]) {
      const sns = isObject(record) && isObject(record.Sns) ? record.Sns : null;
      const message = sns === null ? undefined : str(sns.Message);
      if (message === undefined) {
        triggers.push({ kind: "unknown", why: "a record that is not an SNS notification" });
        continue;
      }
      let alarm: unknown;
      try {
        alarm = JSON.parse(message);
      } catch {
        triggers.push({ kind: "unknown", why: "an SNS message that is not a CloudWatch alarm (not JSON)" });
        continue;
      }
      const alarmName = isObject(alarm) ? str(alarm.AlarmName) : undefined;
      const value = isObject(alarm) ? str(alarm.NewStateValue) : undefined;
      if (alarmName === undefined || value === undefined) {
        triggers.push({ kind: "unknown", why: "an SNS message without AlarmName and NewStateValue" });
        continue;
      }
      triggers.push({
        kind: "alarm",
        alarmName,
        state: value,
        reason: (isObject(alarm) ? str(alarm.NewStateReason) : undefined) ?? "",
        via: "sns",
      });
    }
    return triggers.length > 0 ? triggers : [{ kind: "unknown", why: "an empty Records list" }];
  }
  return [
    {
      kind: "unknown",
      why: `not an alarm state change nor a scheduled event (source ${source ?? "none"}, detail-type ${detailType ?? "none"})`,
    },
  ];
}

export function describeTrigger(t: GuardTrigger): string {
  switch (t.kind) {
    case "alarm":
      return `alarm ${t.alarmName} → ${t.state} (${t.via})`;
    case "schedule":
      return "schedule";
    case "unknown":
      return `unknown event: ${t.why}`;
  }
}
