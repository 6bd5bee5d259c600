import { Session } from 'node:inspector/promises';

/**
 * What this process allocates, garbage included, by function: V8's sampling heap profiler with the
 * objects collected by the garbage collector kept in the profile (by default it keeps only what
 * is still alive when it stops, which says nothing about the allocation rate a scavenge pays for).
 * For the micro-benchmarks' --heap option.
 */
export class HeapSampling {
  private constructor(private readonly session: Session) {}

  /** Samples an allocation every ~1 KB on average. */
  static async start(): Promise<HeapSampling> {
    const session = new Session();
    session.connect();
    // The include* flags are V8's, newer than @types/node's description of the call.
    const params = { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
    await session.post('HeapProfiler.startSampling', params);
    return new HeapSampling(session);
  }

  /** Stops, and describes the bytes allocated per `unit` (`per` of them) and the top functions by self size. */
  async stop(per: number, unit: string, top = 8): Promise<string> {
    const { profile } = (await this.session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: HeapNode } };
    this.session.disconnect();
    const byFunction = new Map<string, number>();
    let total = 0;
    const walk = (node: HeapNode): void => {
      const { functionName, url, lineNumber } = node.callFrame;
      const name = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
      total += node.selfSize;
      byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
      for (const child of node.children) walk(child);
    };
    walk(profile.head);
    const lines = [`  allocated ~${Math.round(total / per)} bytes per ${unit}; by function (self):`];
    for (const [name, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      lines.push(`    ${String(Math.round(bytes / per)).padStart(6)}  ${name}`);
    }
    return lines.join('\n');
  }
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}
