/**
 * The secrets the payment-grade checks name (a synthetic transaction's secretHeaders, an HTTP hook's
 * secretEnv), given to the Dagger module as ONE Secret holding NAME=value lines (a dotenv text:
 * `--check-secrets file:./check-secrets.env`). A function runs in the engine and sees none of the
 * caller's environment, so the names are looked up here. Values are never printed.
 */
import { InvalidInputError } from "../contract/errors.js";
import type { SecretLike } from "./calls.js";

const LINE = /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]{0,127})\s*=\s*(.*?)\s*$/;

/** Parses NAME=value lines (blank lines and # comments skipped; a value may be quoted). */
export function parseCheckSecrets(text: string): Map<string, string> {
  const values = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === "" || raw.trim().startsWith("#")) return;
    const m = LINE.exec(raw);
    if (m === null) {
      // The line is not quoted back: it may hold a secret.
      throw new InvalidInputError(
        [{ field: "checkSecrets", message: `line ${i + 1} is not NAME=value (NAME in upper case)` }],
        "write one NAME=value per line, NAME the variable a declaration names (e.g. RISK_HOOK_SECRET=…)",
      );
    }
    let value = m[2]!;
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0]!)) {
      value = value.slice(1, -1);
    }
    values.set(m[1]!, value);
  });
  return values;
}

/** The lookup the engine's checks use: a name → its value from the Secret, read once. */
export async function checkSecretLookup(
  secret: SecretLike | undefined,
): Promise<((name: string) => string | undefined) | undefined> {
  if (secret === undefined) return undefined;
  const values = parseCheckSecrets(await secret.plaintext());
  return (name) => values.get(name);
}
