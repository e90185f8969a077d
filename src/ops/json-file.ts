/** The operations library's one way to write a JSON file (progress, CDK context): whole or not at all. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes `value` as indented JSON: to a file beside `file` first, then renamed over it, so a reader
 * (or a run interrupted mid-write) sees the old content or the new, never half of it.
 */
export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const staging = `${file}.${process.pid}.tmp`;
  await writeFile(staging, `${JSON.stringify(value, null, 2)}\n`);
  await rename(staging, file);
}
