import type { Redis } from 'ioredis';

/** redis-server's main thread CPU so far, in milliseconds (`INFO cpu`): what the micro-benchmarks charge to Redis. */
export async function redisMainCpuMs(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user_main_thread') + field('used_cpu_sys_main_thread')) * 1000;
}
