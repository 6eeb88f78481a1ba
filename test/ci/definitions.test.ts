/**
 * The CI definitions: GitHub workflows valid against the Actions schema (@action-validator/core),
 * and the shape each CI promises: pinned Dagger, OIDC, one rollout per service, a human gate before
 * promote, the report where that CI shows it.
 */
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { REPO } from "../dagger/scan.js";

interface ValidationState {
  errors: { code: string; detail?: string; path?: string; title: string }[];
}
const { validateWorkflow } = createRequire(import.meta.url)("@action-validator/core") as {
  validateWorkflow(src: string): ValidationState;
};

/** A GitHub expression as written in a workflow: `${{ expr }}`. */
const gh = (expr: string) => ["$", "{{ ", expr, " }}"].join("");

const read = (path: string) => readFile(join(REPO, path), "utf8");

type Workflow = {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress"?: boolean };
  jobs: Record<
    string,
    {
      needs?: string | string[];
      if?: string;
      environment?: string;
      steps?: { uses?: string; with?: Record<string, string>; run?: string; if?: string }[];
    }
  >;
};

async function githubWorkflows(): Promise<string[]> {
  const own = (await readdir(join(REPO, ".github/workflows"))).map((f) => `.github/workflows/${f}`);
  const shipped = (await readdir(join(REPO, "ci/github"))).map((f) => `ci/github/${f}`);
  return [...own, ...shipped].filter((f) => /\.ya?ml$/.test(f)).sort();
}

describe("GitHub Actions workflows", () => {
  it("are all found: the project's CI, the reusable workflow and its example caller", async () => {
    expect(await githubWorkflows()).toEqual([
      ".github/workflows/ci.yml",
      "ci/github/example-caller.yml",
      "ci/github/gray-deploy.yml",
    ]);
  });

  it.each([".github/workflows/ci.yml", "ci/github/example-caller.yml", "ci/github/gray-deploy.yml"])(
    "%s is valid against the Actions workflow schema",
    async (file) => {
      expect(validateWorkflow(await read(file)).errors).toEqual([]);
    },
  );

  it("the validator does reject a broken workflow (so the checks above mean something)", async () => {
    const broken = (await read("ci/github/gray-deploy.yml")).replace(
      "    runs-on: ubuntu-latest\n",
      "    runs_on: x\n",
    );
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
  });

  it("the reusable workflow: workflow_call, OIDC, one concurrency group per service, pinned Dagger", async () => {
    const wf = parseYaml(await read("ci/github/gray-deploy.yml")) as Workflow;
    expect(Object.keys(wf.on)).toEqual(["workflow_call"]);
    expect(wf.permissions).toMatchObject({ "id-token": "write", contents: "read" });
    expect(wf.concurrency).toEqual({
      group: `gray-deploy-${gh("inputs.service")}`,
      "cancel-in-progress": false,
    });
    const inputs = (wf.on.workflow_call as { inputs: Record<string, { default?: string }> }).inputs;
    expect(inputs["dagger-version"]?.default).toBe("0.21.9");
    for (const [name, job] of Object.entries(wf.jobs)) {
      for (const step of job.steps ?? []) {
        if (step.uses?.startsWith("dagger/")) {
          expect([name, step.uses]).toEqual([name, "dagger/dagger-for-github@v8"]);
          expect(step.with?.version).toBe(gh("inputs.dagger-version"));
          expect(step.with?.call).toMatch(/--web-identity-token env:ID_TOKEN/);
        }
      }
    }
  });

  it("build → deploy-gray → promote only when paused, behind a protected environment", async () => {
    const wf = parseYaml(await read("ci/github/gray-deploy.yml")) as Workflow;
    expect(Object.keys(wf.jobs)).toEqual(["build", "deploy", "promote"]);
    expect(wf.jobs.deploy!.needs).toBe("build");
    const callOf = (job: string, fn: string) =>
      wf.jobs[job]!.steps!.find((s) => new RegExp(`(^|\\s)${fn}(\\s|$)`).test(s.with?.call ?? ""))?.with
        ?.call;
    expect(callOf("build", "publish")).toBeDefined();
    expect(callOf("deploy", "deploy-gray")).toMatch(/--image \$\{\{ needs\.build\.outputs\.image \}\}/);
    // The branch is taken on the Outcome's `outcome`, read with jq from the JSON deploy-gray prints.
    const parse = wf.jobs.deploy!.steps!.find((s) => s.run?.includes("jq -r .outcome"));
    expect(parse).toBeDefined();
    expect(wf.jobs.promote).toMatchObject({
      needs: "deploy",
      if: "needs.deploy.outputs.outcome == 'paused'",
      environment: gh("inputs.environment"),
    });
    expect(callOf("promote", "promote")).toBeDefined();
  });

  it("publishes the rollout's report to the job summary after any outcome", async () => {
    const wf = parseYaml(await read("ci/github/gray-deploy.yml")) as Workflow;
    for (const job of ["deploy", "promote"]) {
      const steps = wf.jobs[job]!.steps!;
      const report = steps.find((s) => /(^|\s)report(\s|$)/.test(s.with?.call ?? ""));
      expect(report?.if).toBe("always()");
      const summary = steps.find((s) => s.run?.includes("$GITHUB_STEP_SUMMARY"));
      expect(summary?.if).toBe("always()");
      expect(summary?.run).toContain("gray-deploy-report/report.md");
    }
  });

  it("the example caller calls the reusable workflow with id-token permission", async () => {
    const wf = parseYaml(await read("ci/github/example-caller.yml")) as {
      permissions: Record<string, string>;
      jobs: Record<string, { uses?: string; with?: Record<string, string> }>;
    };
    expect(wf.permissions["id-token"]).toBe("write");
    expect(wf.jobs.gray?.uses).toBe("./.github/workflows/gray-deploy.yml");
    const reusable = parseYaml(await read("ci/github/gray-deploy.yml")) as Workflow;
    const inputs = (reusable.on.workflow_call as { inputs: Record<string, { required?: boolean }> }).inputs;
    const given = Object.keys(wf.jobs.gray?.with ?? {});
    expect(given.filter((k) => !(k in inputs))).toEqual([]);
    const required = Object.entries(inputs)
      .filter(([, v]) => v.required)
      .map(([k]) => k);
    expect(required.filter((k) => !given.includes(k))).toEqual([]);
  });

  it("the project's own CI runs .ci/run on Node 20 and 24", async () => {
    const wf = parseYaml(await read(".github/workflows/ci.yml")) as {
      jobs: { check: { strategy: { matrix: { node: string[] } }; steps: { run?: string }[] } };
    };
    expect(wf.jobs.check.strategy.matrix.node).toEqual(["20", "24"]);
    expect(wf.jobs.check.steps.some((s) => s.run === "bash .ci/run")).toBe(true);
  });
});

describe("GitLab CI", () => {
  type Job = {
    stage?: string;
    extends?: string;
    needs?: string[];
    when?: string;
    rules?: { if?: string; when?: string }[];
    resource_group?: string;
    environment?: { name: string };
    services?: string[];
    id_tokens?: Record<string, { aud: string }>;
    before_script?: string[];
    script?: string[];
    artifacts?: { when?: string; expose_as?: string; paths?: string[]; reports?: Record<string, string> };
  };

  it("parses as YAML with the expected jobs: publish → deploy-gray → manual promote", async () => {
    const ci = parseYaml(await read("ci/gitlab/.gitlab-ci.yml")) as Record<string, Job> & {
      stages: string[];
      variables: Record<string, string>;
    };
    expect(ci.stages).toEqual(["build", "deploy", "promote"]);
    expect(ci.variables.DAGGER_VERSION).toBe("0.21.9");
    expect(ci.publish).toMatchObject({ extends: ".dagger", stage: "build" });
    expect(ci["deploy-gray"]).toMatchObject({ extends: ".dagger", stage: "deploy", needs: ["publish"] });
    expect(ci.promote).toMatchObject({ extends: ".dagger", stage: "promote", needs: ["deploy-gray"] });
    expect(ci.promote?.rules?.[0]?.when).toBe("manual");
    expect(ci.promote?.environment?.name).toBe("production");
    expect(ci.promote?.script?.join("\n")).toMatch(/"\$OUTCOME" != paused/);
  });

  it("runs the Dagger engine on docker:dind with a pinned CLI and AWS access through id_tokens", async () => {
    const ci = parseYaml(await read("ci/gitlab/.gitlab-ci.yml")) as Record<string, Job>;
    const base = ci[".dagger"]!;
    expect(base.services?.[0]).toMatch(/^docker:[\d.]+-dind$/);
    expect(base.id_tokens).toEqual({ AWS_ID_TOKEN: { aud: "sts.amazonaws.com" } });
    expect(base.before_script?.join("\n")).toMatch(/DAGGER_VERSION=\$DAGGER_VERSION sh/);
    for (const job of ["publish", "deploy-gray", "promote"]) {
      expect(ci[job]!.script!.join("\n")).toMatch(/--web-identity-token env:AWS_ID_TOKEN/);
    }
  });

  it("one rollout per service (resource_group) and the report kept as an artifact", async () => {
    const ci = parseYaml(await read("ci/gitlab/.gitlab-ci.yml")) as Record<string, Job>;
    expect(ci["deploy-gray"]!.resource_group).toBe("gray-deploy-$SERVICE");
    expect(ci.promote!.resource_group).toBe("gray-deploy-$SERVICE");
    expect(ci["deploy-gray"]!.artifacts).toMatchObject({ when: "always", paths: ["gray-deploy-report/"] });
    expect(ci["deploy-gray"]!.artifacts?.reports?.dotenv).toBe("deploy.env");
  });
});

describe("Jenkinsfile", () => {
  it("pins Dagger, locks the service, gates promotion with an input step and archives the report", async () => {
    const text = await read("ci/jenkins/Jenkinsfile");
    expect(text).toMatch(/DAGGER_VERSION = '0\.21\.9'/);
    expect(text).toMatch(/lock\(resource: "gray-deploy-\$\{env\.SERVICE\}"\)/);
    const approve = text.slice(text.indexOf("stage('Approve promotion')"), text.indexOf("stage('Promote')"));
    expect(approve).toMatch(/when \{ expression \{ env\.OUTCOME == 'paused' \} \}/);
    expect(approve).toMatch(/input message:/);
    expect(text).toMatch(/archiveArtifacts artifacts: 'gray-deploy-report\/\*\*/);
    // Braces balance: a truncated edit would not.
    expect(text.split("{").length).toBe(text.split("}").length);
  });
});
