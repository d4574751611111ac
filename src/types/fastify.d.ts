import type { Config } from '../config/index.ts';
import type { ExperimentGate } from '../ingest/experiment-gate.ts';
import type { GroupCommitter } from '../ingest/group-commit.ts';
import type { SessionQoeService } from '../session-qoe/service.ts';
import type { EventStore } from '../store/types.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: Readonly<Config>;
    store: EventStore;
    ingest: GroupCommitter;
    experimentGate: ExperimentGate;
    sessions: SessionQoeService;
  }
}
