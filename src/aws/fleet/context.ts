/** What every part of the AWS fleet is built with. */
import type { Clock } from "../../ports/index.js";
import type { AwsApi } from "../api.js";
import type { AwsFleetOptions, Groups } from "./shared.js";
import type { LaunchTemplates } from "./templates.js";

export interface FleetContext {
  readonly o: AwsFleetOptions;
  readonly api: AwsApi;
  readonly clock: Clock;
  readonly groups: Groups;
  readonly templates: LaunchTemplates;
}
