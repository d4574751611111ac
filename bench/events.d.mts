import type { SubmitEvent } from '../src/events/schema.ts';
export declare function benchEvent(run: string, i: number, testbed?: boolean): SubmitEvent;
