/**
 * Where a stream mapping got to, per shard: the last sequence number the function finished
 * with. Kept in memory and written (debounced, atomically) to a JSON file so a restarted
 * runtime resumes with AFTER_SEQUENCE_NUMBER instead of replaying the stream.
 *
 * One file per (function, stream): the stream ARN carries the stream's creation label, so a
 * re-created table starts fresh, while a re-created mapping for the same function and stream
 * (a redeploy) resumes.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface ShardCheckpoint {
  /** Last sequence number processed (or given up on). */
  readonly sequenceNumber?: string;
  /** The shard was read to its end. */
  readonly ended?: boolean;
}

interface CheckpointFile {
  readonly streamArn: string;
  readonly functionName: string;
  readonly shards: Record<string, ShardCheckpoint>;
  readonly updatedAt: string;
}

export class CheckpointStore {
  private shards: Record<string, ShardCheckpoint>;
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(
    readonly file: string,
    private readonly streamArn: string,
    private readonly functionName: string,
    shards: Record<string, ShardCheckpoint>,
    private readonly debounceMs: number,
  ) {
    this.shards = shards;
  }

  static fileFor(stateDir: string, region: string, functionName: string, streamArn: string): string {
    // arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL
    const resource = streamArn.split(':').slice(5).join(':');
    const safe = resource.replace(/^table\//, '').replace(/[^A-Za-z0-9._-]+/g, '_');
    return join(stateDir, 'checkpoints', region, functionName, `${safe}.json`);
  }

  static async open(file: string, streamArn: string, functionName: string, debounceMs = 200): Promise<CheckpointStore> {
    let shards: Record<string, ShardCheckpoint> = {};
    if (existsSync(file)) {
      try {
        const saved = JSON.parse(await readFile(file, 'utf8')) as CheckpointFile;
        if (saved.streamArn === streamArn) shards = saved.shards ?? {};
      } catch {
        // A corrupt file is as good as none: the mapping's StartingPosition applies.
      }
    }
    return new CheckpointStore(file, streamArn, functionName, shards, debounceMs);
  }

  get(shardId: string): ShardCheckpoint | undefined {
    return this.shards[shardId];
  }

  advance(shardId: string, sequenceNumber: string): void {
    const current = this.shards[shardId]?.sequenceNumber;
    // Sequence numbers are decimal strings of up to 40 digits: compare as BigInt.
    if (current !== undefined && BigInt(current) >= BigInt(sequenceNumber)) return;
    this.shards = { ...this.shards, [shardId]: { ...this.shards[shardId], sequenceNumber } };
    this.schedule();
  }

  markEnded(shardId: string): void {
    this.shards = { ...this.shards, [shardId]: { ...this.shards[shardId], ended: true } };
    this.schedule();
  }

  /** Writes pending changes now. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty) {
      this.dirty = false;
      const body: CheckpointFile = {
        streamArn: this.streamArn,
        functionName: this.functionName,
        shards: this.shards,
        updatedAt: new Date().toISOString(),
      };
      const write = this.writing.catch(() => undefined).then(() => writeAtomically(this.file, `${JSON.stringify(body, null, 2)}\n`));
      this.writing = write;
      try {
        await write;
      } catch (err) {
        this.dirty = true; // try again with the next flush
        throw err;
      }
      return;
    }
    await this.writing.catch(() => undefined);
  }

  private schedule(): void {
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined);
    }, this.debounceMs);
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
