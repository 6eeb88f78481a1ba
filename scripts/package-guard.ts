/**
 * Packages the guard (src/guard) for AWS Lambda: one CommonJS bundle, `index.js` exporting `handler`
 * (the module's default `guard_handler = "index.handler"`, runtime nodejs20.x), with everything it
 * imports — the AWS SDK v3 clients included, so the function runs the SDK versions gray-deploy was
 * tested with, not whatever the runtime ships — in a deterministic .zip (fixed timestamps and order:
 * the same sources give the same bytes, so Terraform's source_code_hash changes only with the code).
 *
 *   npx tsx scripts/package-guard.ts                   # → IaC/modules/gray-deployment/guard/gray-deploy-guard.zip
 *   npx tsx scripts/package-guard.ts --out dist/guard.zip
 *
 * Prints the path, the size and the package's base64 SHA-256 (what filebase64sha256() computes).
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { crc32, deflateRawSync } from "node:zlib";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ENTRY = join(ROOT, "src", "guard", "index.ts");
export const DEFAULT_OUT = join(ROOT, "IaC", "modules", "gray-deployment", "guard", "gray-deploy-guard.zip");

export interface PackagedGuard {
  readonly path: string;
  readonly bytes: number;
  /** base64 SHA-256 of the .zip, as Terraform's filebase64sha256(). */
  readonly sha256: string;
  /** Size of index.js before compression. */
  readonly bundleBytes: number;
}

/** Bundles src/guard/index.ts into index.js (CommonJS, Node 20). */
export async function bundleGuard(): Promise<Uint8Array> {
  const out = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: true,
    // Error classes name themselves after their class (GrayDeployError subclasses): keep the names.
    keepNames: true,
    legalComments: "eof",
    write: false,
    logLevel: "silent",
    outfile: "index.js",
  });
  const file = out.outputFiles[0];
  if (file === undefined) throw new Error("esbuild produced no output");
  return file.contents;
}

/** A .zip of `files` with fixed timestamps (1980-01-01) and Unix mode 0644, deflated. */
export function zip(files: readonly { name: string; data: Uint8Array }[]): Buffer {
  const local: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const DOS_TIME = 0;
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
  for (const f of files) {
    const name = Buffer.from(f.name, "utf8");
    const data = Buffer.from(f.data);
    const packed = deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    header.writeUInt16LE(0x0800, 6); // UTF-8 names
    header.writeUInt16LE(8, 8); // deflate
    header.writeUInt16LE(DOS_TIME, 10);
    header.writeUInt16LE(DOS_DATE, 12);
    header.writeUInt32LE(crc, 14);
    header.writeUInt32LE(packed.length, 18);
    header.writeUInt32LE(data.length, 22);
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(0, 28);
    local.push(header, name, packed);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(0x0314, 4); // made by: Unix, 2.0
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt16LE(DOS_TIME, 12);
    entry.writeUInt16LE(DOS_DATE, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(packed.length, 20);
    entry.writeUInt32LE(data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt16LE(0, 30); // extra
    entry.writeUInt16LE(0, 32); // comment
    entry.writeUInt16LE(0, 34); // disk
    entry.writeUInt16LE(0, 36); // internal attributes
    entry.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external: regular file, rw-r--r--
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
    offset += header.length + name.length + packed.length;
  }
  const dir = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...local, dir, end]);
}

export async function packageGuard(out: string = DEFAULT_OUT): Promise<PackagedGuard> {
  const bundle = await bundleGuard();
  const archive = zip([{ name: "index.js", data: bundle }]);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, archive);
  return {
    path: out,
    bytes: archive.length,
    sha256: createHash("sha256").update(archive).digest("base64"),
    bundleBytes: bundle.length,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--out");
  const out = at >= 0 && args[at + 1] !== undefined ? resolve(args[at + 1]!) : DEFAULT_OUT;
  const p = await packageGuard(out);
  process.stdout.write(
    `${p.path}: ${(p.bytes / 1024).toFixed(0)} KiB (index.js ${(p.bundleBytes / 1024).toFixed(0)} KiB), base64 sha256 ${p.sha256}\n`,
  );
}
